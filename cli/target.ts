// Which kernel the CLI talks to and with which token, and where each came from (so that errors
// can say "the token from /x/.substrate/operator.token was refused").
// URL: --url, SUBSTRATE_URL, <data>/kernel.json (written by a running kernel), else the default.
// Token: --token, SUBSTRATE_TOKEN, <data>/operator.token.

import fs from 'node:fs';
import path from 'node:path';
import { DEFAULT_HOST, DEFAULT_PORT } from '../kernel/api.ts';
import { STATE_FILE, TOKEN_FILE } from '../kernel/data-dir.ts';

export const DEFAULT_DATA_DIR = './.substrate';
export const DEFAULT_URL = `ws://${DEFAULT_HOST}:${DEFAULT_PORT}/`;

export type Source =
  | { kind: 'flag'; flag: string }
  | { kind: 'env'; name: string }
  | { kind: 'file'; path: string }
  | { kind: 'default' }
  | { kind: 'none'; looked: string[] };

export interface Target {
  url: string;
  urlSource: Source;
  token: string | undefined;
  tokenSource: Source;
  dataDir: string;
}

export interface TargetFlags {
  url?: string;
  token?: string;
  data?: string;
}

function readIfExists(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** The data directory: --data, SUBSTRATE_DATA, else ./.substrate; absolute. */
export function resolveDataDir(flags: TargetFlags, env: NodeJS.ProcessEnv, cwd: string): string {
  return path.resolve(cwd, flags.data || env.SUBSTRATE_DATA || DEFAULT_DATA_DIR);
}

export function resolveTarget(flags: TargetFlags, env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): Target {
  const dataDir = resolveDataDir(flags, env, cwd);

  let url: string;
  let urlSource: Source;
  const kernelFile = path.join(dataDir, STATE_FILE);
  if (flags.url) {
    url = flags.url;
    urlSource = { kind: 'flag', flag: '--url' };
  } else if (env.SUBSTRATE_URL) {
    url = env.SUBSTRATE_URL;
    urlSource = { kind: 'env', name: 'SUBSTRATE_URL' };
  } else {
    const fromFile = readKernelUrl(kernelFile);
    if (fromFile) {
      url = fromFile;
      urlSource = { kind: 'file', path: kernelFile };
    } else {
      url = DEFAULT_URL;
      urlSource = { kind: 'default' };
    }
  }

  let token: string | undefined;
  let tokenSource: Source;
  const tokenFile = path.join(dataDir, TOKEN_FILE);
  if (flags.token) {
    token = flags.token;
    tokenSource = { kind: 'flag', flag: '--token' };
  } else if (env.SUBSTRATE_TOKEN) {
    token = env.SUBSTRATE_TOKEN;
    tokenSource = { kind: 'env', name: 'SUBSTRATE_TOKEN' };
  } else {
    const fromFile = readIfExists(tokenFile)?.trim();
    if (fromFile) {
      token = fromFile;
      tokenSource = { kind: 'file', path: tokenFile };
    } else {
      tokenSource = { kind: 'none', looked: ['--token', 'SUBSTRATE_TOKEN', tokenFile] };
    }
  }
  return { url, urlSource, token, tokenSource, dataDir };
}

function readKernelUrl(file: string): string | undefined {
  const text = readIfExists(file);
  if (!text) return undefined;
  try {
    const parsed = JSON.parse(text) as { url?: unknown };
    return typeof parsed.url === 'string' && parsed.url ? parsed.url : undefined;
  } catch {
    return undefined;
  }
}

/** "the --token flag", "SUBSTRATE_TOKEN", "/x/operator.token", "the default". */
export function describeSource(s: Source): string {
  switch (s.kind) {
    case 'flag':
      return `the ${s.flag} flag`;
    case 'env':
      return `the ${s.name} environment variable`;
    case 'file':
      return s.path;
    case 'default':
      return 'the default';
    case 'none':
      return `nowhere (looked at ${s.looked.join(', ')})`;
  }
}
