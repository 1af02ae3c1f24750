// Type-checks files as a project that installed substrate would: `substrate` is a symlink to this
// repository in its node_modules, so imports go through the package's `exports`.

import { execFileSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { tmpDir } from './helpers.ts';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const TSC = path.join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

/** tsc (strict, NodeNext) over `files` in a fresh directory; `dir` is for the caller to remove. */
export function typecheckProject(files: Record<string, string>): { ok: boolean; output: string; dir: string } {
  const dir = tmpDir('substrate-types-');
  mkdirSync(path.join(dir, 'node_modules'));
  symlinkSync(REPO_ROOT, path.join(dir, 'node_modules', 'substrate'), 'dir');
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'my-capabilities', type: 'module', private: true }));
  writeFileSync(
    path.join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, lib: ['ES2022'], types: [] },
      include: ['*.ts'],
    }),
  );
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  try {
    const output = execFileSync(process.execPath, [TSC, '-p', dir], { encoding: 'utf8', stdio: 'pipe' });
    return { ok: true, output, dir };
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string };
    return { ok: false, output: `${err.stdout ?? ''}${err.stderr ?? ''}`, dir };
  }
}
