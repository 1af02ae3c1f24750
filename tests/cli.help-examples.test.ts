// Every file a command's help names in its examples exists in the repository, so a newcomer can
// run the examples as written from a clone. Reads the help through the real binary.

import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const repo = path.resolve(import.meta.dirname, '..');
const bin = path.join(repo, 'cli/substrate.js');

function help(args: string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(process.execPath, ['--no-node-snapshot', bin, ...args, '--help'], { cwd: repo, timeout: 60_000 }, (err, stdout) =>
      err && !stdout ? reject(err) : resolve(stdout),
    ),
  );
}

describe('help examples', () => {
  it('name only files that exist', async () => {
    const top = await help([]);
    const commands = [...top.matchAll(/^ {2}([a-z][a-z-]*)\b/gm)].map((m) => m[1]).filter((c) => c !== 'help');
    expect(commands).toContain('register');
    const named: string[] = [];
    for (const c of commands) {
      const text = await help([c]);
      for (const line of text.split('\n').filter((l) => l.trimStart().startsWith('$ substrate'))) {
        for (const tok of line.split(/\s+/)) if (/^[\w./-]+\.(js|ts|json)$/.test(tok)) named.push(tok);
      }
    }
    expect(named).toContain('docs/examples/tokenize.js');
    for (const f of named) expect(existsSync(path.join(repo, f)), `${f} named in a help example`).toBe(true);
  }, 180_000);
});
