// Online backup while the store keeps writing: the copy opens as a store and holds the data.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Store } from '../store/store.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

describe('store backup', () => {
  it('backs up while writes continue, and the backup opens with the data', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'substrate-backup-'));
    dirs.push(dir);
    const store = Store.open(path.join(dir, 'data', 'substrate.db'));
    const big = JSON.stringify('x'.repeat(4000));
    for (let i = 0; i < 2000; i++) {
      store.commitState({ reads: [], nsReads: [], writes: [['bulk', `k${String(i).padStart(5, '0')}`, big]] });
    }
    store.createToken({ id: 't', name: 'n', role: 'operator', secretHash: 'h' });

    let writing = true;
    let extra = 0;
    const writer = (async () => {
      while (writing && extra < 500) {
        store.commitState({ reads: [], nsReads: [], writes: [['live', `w${extra}`, String(extra)]] });
        extra++;
        await new Promise((r) => setImmediate(r));
      }
    })();
    const target = path.join(dir, 'backups', 'b.db');
    await store.backup(target);
    writing = false;
    await writer;
    store.close();

    const copy = Store.open(target);
    try {
      expect(copy.namespaces().find((n) => n.namespace === 'bulk')?.keys).toBe(2000);
      expect(copy.readState('bulk', 'k01999')?.value).toBe(big);
      expect(copy.token('t')?.role).toBe('operator');
      // Whatever of the concurrent writes it holds, it holds a prefix of them, each intact.
      const live = copy.listState('live', { limit: 1000 });
      expect(live.length).toBeGreaterThan(0);
      for (const r of live) expect(r.value).toBe(r.key.slice(1));
    } finally {
      copy.close();
    }
  });
});
