// Secrets (the contract's "Effects": secrets/set, secrets/list, secrets/remove; operators only):
// validating what an operator stores, encrypting the value, and handing it back decrypted to the
// kernel's request performer (resolve), the only reader of a value in clear. No method returns a
// value.
//
// Encryption: AES-256-GCM, a random 12-byte IV per value, the 16-byte auth tag stored beside the
// ciphertext, the secret's name as additional authenticated data (a ciphertext copied onto another
// name does not decrypt). The 32-byte key lives outside the database, so the store file and its
// backups never hold a value that can be read without it: `<data>/secrets.key` (mode 0600, created
// with the first secret), or the file named by the option / SUBSTRATE_SECRETS_KEY_FILE. A key check
// (a known text encrypted with the key, in the store's meta table) tells a wrong key file from the
// right one when the kernel opens, before anything is decrypted.

import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fail } from '../capabilities/errors.ts';
import { nameProblem } from '../capabilities/names.ts';
import { formatDestination, parseDestination, type Destination } from '../capabilities/destinations.ts';
import type { Principal } from '../capabilities/types.ts';
import type { SecretRow, SecretTable } from '../store/secrets.ts';
import type { SecretInfo, SecretsListResult, SecretsRemoveResult, SecretsSetParams, SecretsSetResult } from './api.ts';
import { StartError } from './start-error.ts';

/** The key file's name in the data directory (unless SUBSTRATE_SECRETS_KEY_FILE says otherwise). */
export const SECRETS_KEY_FILE = 'secrets.key';
export const SECRETS_KEY_ENV = 'SUBSTRATE_SECRETS_KEY_FILE';
export const DEFAULT_SECRET_HEADER = 'Authorization';
export const DEFAULT_SECRET_FORMAT = 'Bearer {}';
const KEY_BYTES = 32;
const IV_BYTES = 12;
const KEY_CHECK_TEXT = 'substrate secrets key check';
const KEY_CHECK_AAD = 'substrate:key-check';

/** A header name is an RFC 9110 token. */
const HEADER_TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Headers the kernel itself sets or that frame the message: a secret may not replace them. */
const RESERVED_HEADERS = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'upgrade', 'te', 'trailer', 'keep-alive', 'proxy-connection', 'expect']);
/** Control characters (CR and LF among them) would split or corrupt a header; tab is allowed. */
function hasControl(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f) return true;
  }
  return false;
}

/** A secret as the request performer gets it: the value in clear. */
export interface ResolvedSecret {
  name: string;
  value: string;
  /** Destination patterns, as stored (canonical), and parsed. */
  hosts: string[];
  destinations: Destination[];
  header: string;
  format: string;
}

/** Where the key comes from: a file (created on first use), or given (tests, embedders). */
export type SecretsKeySource = { file: string } | { key: Buffer };

export function secretsKeyFile(dataDir: string, option?: string): string {
  return path.resolve(option ?? process.env[SECRETS_KEY_ENV] ?? path.join(dataDir, SECRETS_KEY_FILE));
}

export class Secrets {
  private key: Buffer | undefined;
  /** Decrypted values by name, dropped at every set and remove (resolve runs per request). */
  private readonly cache = new Map<string, ResolvedSecret>();

  constructor(
    private readonly table: SecretTable,
    private readonly source: SecretsKeySource,
  ) {
    if ('key' in source) this.key = checkedKey(source.key, 'the given secrets key');
  }

  /** At kernel start: when the store holds secrets (or a key check), the key must be there and be
   *  the one they were encrypted with. Throws StartError SECRETS_KEY naming the file. */
  verifyKey(): void {
    const check = this.table.keyCheck();
    if (check === undefined && this.table.count() === 0) return;
    const key = this.loadKey(false);
    if (!key) {
      throw this.keyError(`the store holds secrets but their key file ${this.keyPath()} does not exist`);
    }
    if (check !== undefined && !verifyCheck(key, check)) {
      throw this.keyError(`the secrets key ${this.keyPath()} is not the key the store's secrets were encrypted with`);
    }
  }

  // ------------------------------------------------------------------ secrets/set, list, remove

  set(actor: Principal, p: SecretsSetParams): SecretsSetResult {
    const problem = nameProblem(p.name);
    if (problem) throw invalid(`secret name ${JSON.stringify(p.name)} ${problem}`, { field: 'name' });
    if (hasControl(p.value)) throw invalid('the secret value contains a control character (CR, LF or another): it could not travel in a header', { field: 'value' });
    const hosts = p.hosts.map((h, i) => {
      const d = parseDestination(h);
      if (typeof d === 'string') throw invalid(`hosts[${i}] ${JSON.stringify(h)} ${d}`, { field: `hosts.${i}`, value: h });
      return formatDestination(d);
    });
    const header = p.header ?? DEFAULT_SECRET_HEADER;
    if (!HEADER_TOKEN.test(header)) throw invalid(`header ${JSON.stringify(header)} is not a header name (letters, digits and !#$%&'*+.^_\`|~-)`, { field: 'header', value: header });
    if (RESERVED_HEADERS.has(header.toLowerCase())) throw invalid(`header ${header} is set by the kernel itself; a secret cannot go in it`, { field: 'header', value: header });
    const format = p.format ?? DEFAULT_SECRET_FORMAT;
    if (!format.includes('{}')) throw invalid(`format ${JSON.stringify(format)} has no {} where the secret goes (like "Bearer {}")`, { field: 'format', value: format });
    if (hasControl(format)) throw invalid('format contains a control character (CR, LF or another)', { field: 'format' });
    const key = this.keyForWriting();
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(Buffer.from(p.name, 'utf8'));
    const ciphertext = Buffer.concat([cipher.update(p.value, 'utf8'), cipher.final()]);
    const row: SecretRow = { name: p.name, hosts: [...new Set(hosts)], header, format, iv, tag: cipher.getAuthTag(), ciphertext, createdAt: Date.now(), createdBy: actor.name };
    const replaced = this.table.put(row);
    this.cache.delete(p.name);
    return { ...info(row), replaced };
  }

  list(): SecretsListResult {
    return { items: this.table.all().map(info) };
  }

  remove(name: string): SecretsRemoveResult {
    if (!this.table.remove(name)) throw fail('NOT_FOUND', `no secret '${name}' (see secrets/list)`, { name });
    this.cache.delete(name);
    return { name, removed: true };
  }

  // ------------------------------------------------------------------ for the request performer

  /** The secret of that name with its value in clear, or null when there is none. Throws when the
   *  stored ciphertext does not decrypt (a wrong key or a tampered row), never returning garbage. */
  resolve(name: string): ResolvedSecret | null {
    const hit = this.cache.get(name);
    if (hit) return hit;
    const row = this.table.get(name);
    if (!row) return null;
    const key = this.loadKey(false);
    // Checked at start (verifyKey); these are a key file removed or a row altered since.
    if (!key) throw fail('EFFECT_FAILED', `secret ${name} is stored but its key file ${this.keyPath()} does not exist`, { secret: name, reason: 'secrets key missing' });
    let value: string;
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, row.iv);
      decipher.setAAD(Buffer.from(row.name, 'utf8'));
      decipher.setAuthTag(row.tag);
      value = Buffer.concat([decipher.update(row.ciphertext), decipher.final()]).toString('utf8');
    } catch {
      throw fail('EFFECT_FAILED', `secret ${name} does not decrypt with the key ${this.keyPath()}: a wrong key file, or the row was altered`, { secret: name, reason: 'secret does not decrypt' });
    }
    const destinations = row.hosts.map((h) => parseDestination(h)).filter((d): d is Destination => typeof d !== 'string');
    const out: ResolvedSecret = { name: row.name, value, hosts: row.hosts, destinations, header: row.header, format: row.format };
    this.cache.set(name, out);
    return out;
  }

  // ------------------------------------------------------------------ the key

  private keyPath(): string {
    return 'file' in this.source ? this.source.file : '(in memory)';
  }

  private keyError(message: string): StartError {
    return new StartError('SECRETS_KEY', `${message}. Point ${SECRETS_KEY_ENV} at the right key file, or remove the secrets and set them again.`, { keyFile: this.keyPath() });
  }

  /** The key, read from its file (once); undefined when the file does not exist and `create` is false. */
  private loadKey(create: boolean): Buffer | undefined {
    if (this.key) return this.key;
    if (!('file' in this.source)) return undefined;
    const file = this.source.file;
    let data: Buffer;
    try {
      data = fs.readFileSync(file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      if (!create) return undefined;
      this.key = createKeyFile(file);
      return this.key;
    }
    warnIfReadable(file);
    this.key = parseKey(data, file);
    return this.key;
  }

  /** The key for a new secret: created with the first one, and the key check written beside it. */
  private keyForWriting(): Buffer {
    const key = this.loadKey(true) as Buffer;
    const check = this.table.keyCheck();
    if (check === undefined) this.table.setKeyCheck(makeCheck(key));
    else if (!verifyCheck(key, check)) throw new Error(`the secrets key ${this.keyPath()} is not the key the store's secrets were encrypted with`);
    return key;
  }
}

function info(r: SecretRow): SecretInfo {
  return { name: r.name, hosts: r.hosts, header: r.header, format: r.format, createdAt: new Date(r.createdAt).toISOString() };
}

function invalid(message: string, data: { [k: string]: unknown }) {
  return fail('INVALID_INPUT', message, data);
}

function checkedKey(key: Buffer, what: string): Buffer {
  if (key.length !== KEY_BYTES) throw new StartError('SECRETS_KEY', `${what} is ${key.length} bytes; an AES-256 key is ${KEY_BYTES}`, {});
  return key;
}

/** A key file holds the key as base64 (what this kernel writes), 64 hex digits, or 32 raw bytes. */
function parseKey(data: Buffer, file: string): Buffer {
  if (data.length === KEY_BYTES) return data;
  const text = data.toString('utf8').trim();
  const key = /^[0-9a-fA-F]{64}$/.test(text) ? Buffer.from(text, 'hex') : /^[A-Za-z0-9+/]{43}=?$/.test(text) ? Buffer.from(text, 'base64') : undefined;
  if (!key || key.length !== KEY_BYTES) {
    throw new StartError('SECRETS_KEY', `the secrets key file ${file} does not hold a ${KEY_BYTES}-byte key (base64, 64 hex digits or ${KEY_BYTES} raw bytes)`, { keyFile: file });
  }
  return key;
}

function createKeyFile(file: string): Buffer {
  const key = randomBytes(KEY_BYTES);
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  // 'wx': never overwrite a key that appeared meanwhile; 0600 is reapplied past the umask.
  const fd = fs.openSync(file, 'wx', 0o600);
  try {
    fs.fchmodSync(fd, 0o600);
    fs.writeSync(fd, `${key.toString('base64')}\n`);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  return key;
}

function warnIfReadable(file: string): void {
  const mode = fs.statSync(file).mode & 0o777;
  if (mode & 0o077) process.stderr.write(`substrate: warning: the secrets key ${file} is mode ${mode.toString(8).padStart(4, '0')}; chmod 600 it so that only its user can read it.\n`);
}

function makeCheck(key: Buffer): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(KEY_CHECK_AAD));
  const ct = Buffer.concat([cipher.update(KEY_CHECK_TEXT, 'utf8'), cipher.final()]);
  return JSON.stringify({ iv: iv.toString('base64'), tag: cipher.getAuthTag().toString('base64'), ct: ct.toString('base64') });
}

function verifyCheck(key: Buffer, check: string): boolean {
  try {
    const c = JSON.parse(check) as { iv: string; tag: string; ct: string };
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(c.iv, 'base64'));
    decipher.setAAD(Buffer.from(KEY_CHECK_AAD));
    decipher.setAuthTag(Buffer.from(c.tag, 'base64'));
    return Buffer.concat([decipher.update(Buffer.from(c.ct, 'base64')), decipher.final()]).toString('utf8') === KEY_CHECK_TEXT;
  } catch {
    return false;
  }
}
