// An acknowledged commit survives kill -9 of the process that made it (WAL + synchronous=NORMAL).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { Store } from '../store/store.ts';

const storeModule = fileURLToPath(new URL('../store/store.ts', import.meta.url));
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

describe('store durability', () => {
  it('keeps commits made just before SIGKILL', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'substrate-kill-'));
    dirs.push(dir);
    const file = path.join(dir, 'substrate.db');
    const script = `
      const { Store } = await import(${JSON.stringify(storeModule)});
      const s = Store.open(${JSON.stringify(file)});
      for (let i = 0; i < 50; i++) s.commitState({ reads: [], nsReads: [], writes: [['d', 'k' + i, String(i)]] });
      const g = s.commit({ principal: { id: 'p', name: 'p', role: 'operator' }, newVersions: [], setCurrent: [],
        bumpGeneration: true, changes: [], gates: [] });
      process.stdout.write('acked ' + g + '\\n', () => process.kill(process.pid, 'SIGKILL'));
    `;
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
    expect(child.signal).toBe('SIGKILL');
    expect(child.stdout).toContain('acked 1');

    const store = Store.open(file);
    try {
      expect(store.generation()).toBe(1);
      expect(store.listState('d', { limit: 100 })).toHaveLength(50);
      expect(store.readState('d', 'k49')?.value).toBe('49');
    } finally {
      store.close();
    }
  });
});
