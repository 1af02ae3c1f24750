// Issue 13 item 4: the effect journal's store (store/effects.ts) and its kernel side
// (kernel/effects-api.ts, effects/list): append in order, list newest first with filters and
// cursors, the retention rule (records and response bodies), the buffered record() of the kernel,
// and who may read what.

import { rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EffectRecord } from '../capabilities/effects.ts';
import { Store } from '../store/store.ts';
import { EffectTable } from '../store/effects.ts';
import { EffectsApi } from '../kernel/effects-api.ts';
import { openWritable } from '../store/db.ts';
import { migrate } from '../store/migrations.ts';
import { expectType, startTestKernel, tmpDir, type TestKernel } from './helpers.ts';

let n = 0;
function rec(over: Partial<EffectRecord> = {}): EffectRecord {
  n++;
  return {
    id: `eff_${n}`,
    at: 1_700_000_000_000 + n,
    invocationId: 'inv_a',
    name: 'w.fetch',
    version: '1.0.0',
    hash: 'sha256:abc',
    principal: 'tok_alice',
    principalName: 'alice',
    method: 'GET',
    url: `https://api.example.com/${n}`,
    finalUrl: `https://api.example.com/${n}`,
    status: 200,
    error: null,
    requestBytes: 0,
    responseBytes: 5,
    durationMs: 12.5,
    replayed: false,
    response: { status: 200, statusText: 'OK', headers: [['content-type', 'text/plain']], url: `https://api.example.com/${n}`, redirected: false, body: 'aGVsbG8=' },
    ...over,
  };
}

describe('store/effects.ts', () => {
  let dir: string;
  let store: Store;
  beforeAll(() => {
    dir = tmpDir('substrate-effects-');
    store = Store.open(path.join(dir, 'substrate.db'));
  });
  afterAll(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('appends in order and lists newest first, by name, invocation and owner, in pages', () => {
    const a = [rec(), rec({ invocationId: 'inv_b', status: null, error: 'connect ECONNREFUSED', response: null }), rec({ name: 'x.other', principal: 'tok_bob' })];
    store.effects.append(a);
    store.effects.append([a[0]]); // the same id again: kept once
    const all = store.effects.list({ limit: 10 });
    expect(all.map((r) => r.id)).toEqual([a[2].id, a[1].id, a[0].id]);
    const { seq: _s, ...first } = all[2];
    expect(first).toEqual(a[0]);
    expect(store.effects.list({ name: 'w.fetch', limit: 10 }).map((r) => r.id)).toEqual([a[1].id, a[0].id]);
    expect(store.effects.list({ invocationId: 'inv_b', limit: 10 }).map((r) => r.id)).toEqual([a[1].id]);
    expect(store.effects.list({ principal: 'tok_bob', limit: 10 }).map((r) => r.id)).toEqual([a[2].id]);
    const page = store.effects.list({ limit: 1 });
    expect(store.effects.list({ limit: 10, before: page[0].seq }).map((r) => r.id)).toEqual([a[1].id, a[0].id]);
    expect(store.effects.forInvocation('inv_a').map((r) => r.id)).toEqual([a[0].id, a[2].id]);
  });

  it('retention: the newest records are kept, and only the newest of them keep their body', () => {
    const db = openWritable(path.join(dir, 'retention.db'));
    migrate(db);
    const t = new EffectTable(db, { records: 5, bodies: 2 });
    t.append([rec({ invocationId: 'inv_old' })]);
    for (let i = 0; i < 4; i++) t.append([rec({ invocationId: 'inv_r' }), rec({ invocationId: 'inv_r' })]);
    expect(t.list({ invocationId: 'inv_old', limit: 100 })).toEqual([]);
    const kept = t.list({ limit: 100 });
    expect(kept).toHaveLength(5);
    expect(kept.map((r) => r.response !== null)).toEqual([true, true, false, false, false]);
    expect(kept.every((r) => r.status === 200 && r.responseBytes === 5)).toBe(true);
    db.close();
  });
});

describe('kernel effects API and effects/list', () => {
  let k: TestKernel;
  beforeAll(async () => {
    k = await startTestKernel();
  });
  afterAll(async () => {
    await k?.stop();
  });

  it('record() is buffered and visible to the next read; effects/list leaves the response out', async () => {
    const alice = k.auth.create('agent', 'alice');
    const bob = k.auth.create('agent', 'bob');
    const ac = await k.client(alice.token);
    await ac.call('capabilities/register', { source: 'export const manifest = { name: "alice.fetch", version: "1.0.0", description: "x" };\nexport default async function (input) { return input; }\n' });
    const mine = rec({ name: 'alice.fetch', principal: alice.id, principalName: 'alice', invocationId: 'inv_k' });
    const theirs = rec({ name: 'bob.fetch', principal: bob.id, principalName: 'bob', invocationId: 'inv_k2' });
    k.kernel.effects.record(mine);
    k.kernel.effects.record(theirs);
    const op = await k.client();
    const all = await op.call('effects/list', {});
    expect(all.items.map((i) => i.id)).toEqual([theirs.id, mine.id]);
    expect(all.items[1]).toEqual({ ...mine, at: new Date(mine.at).toISOString(), response: undefined });
    expect(all.items[1]).not.toHaveProperty('response');
    expect(all.nextCursor).toBeNull();
    const page = await op.call('effects/list', { limit: 1 });
    expect(page.nextCursor).not.toBeNull();
    expect((await op.call('effects/list', { limit: 1, cursor: page.nextCursor! })).items.map((i) => i.id)).toEqual([mine.id]);
    expect((await op.call('effects/list', { invocationId: 'inv_k' })).items.map((i) => i.id)).toEqual([mine.id]);
    expect(k.kernel.effects.forInvocation('inv_k')).toEqual([mine]);

    // Agents: their own capabilities' records only; naming another's is FORBIDDEN.
    expect((await ac.call('effects/list', {})).items.map((i) => i.id)).toEqual([mine.id]);
    expect((await ac.call('effects/list', { name: 'alice.fetch' })).items.map((i) => i.id)).toEqual([mine.id]);
    expect((await ac.call('effects/list', { invocationId: 'inv_k2' })).items).toEqual([]);
    await expectType(ac.call('effects/list', { name: 'bob.fetch' }), 'FORBIDDEN');
    const client = await k.client(k.auth.create('client', 'reader').token);
    const e = await expectType(client.call('effects/list', {}), 'FORBIDDEN');
    expect(e.data).toMatchObject({ role: 'client', method: 'effects/list' });
    await expectType(op.call('effects/list', { cursor: 'x' }), 'NOT_FOUND');
    await expectType(op.call('effects/list', { name: 'Bad Name' }), 'INVALID_MANIFEST');
  });

  it('flushes at close and when the buffer fills; a failing write is reported, not thrown', () => {
    const errors: unknown[] = [];
    const appended: EffectRecord[][] = [];
    const api = new EffectsApi({ append: (r: readonly EffectRecord[]) => appended.push([...r]) } as unknown as EffectTable, () => undefined, (e) => errors.push(e));
    for (let i = 0; i < 256; i++) api.record(rec());
    expect(appended.map((b) => b.length)).toEqual([256]);
    api.record(rec());
    api.close();
    expect(appended.map((b) => b.length)).toEqual([256, 1]);
    api.record(rec()); // after close: dropped
    api.flush();
    expect(appended).toHaveLength(2);
    const failing = new EffectsApi({ append: () => { throw new Error('disk full'); } } as unknown as EffectTable, () => undefined, (e) => errors.push(e));
    failing.record(rec());
    failing.flush();
    expect(String(errors[0])).toContain('disk full');
  });
});
