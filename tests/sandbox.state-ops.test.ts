// ctx.state operations through real workers, beyond the basics of sandbox.pool.test.ts: writes are
// checked inside the isolate and reach the host with the call's next request, so what they must
// still guarantee is tested here: ordering, visibility across nested calls, the limits, and writes
// left un-awaited when a call returns.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunResult } from '../sandbox/protocol.ts';
import type { SandboxPool } from '../sandbox/pool.ts';
import { makePool, spec, Versions } from './sandbox.fixtures.ts';

const versions = new Versions();
let pool: SandboxPool;

beforeAll(async () => {
  ({ pool } = makePool(versions, { size: 1 }));
  await pool.start();
});

afterAll(async () => {
  await pool.close();
});

function ok(r: RunResult) {
  if (!r.ok) throw new Error(`expected success, got ${JSON.stringify(r.error)}`);
  return r;
}

describe('ctx.state writes', () => {
  it('a callee sees the writes its caller made before calling; the caller sees the callee\'s after', async () => {
    const callee = versions.add(
      'so.callee',
      `export default async (i, ctx) => {
         const seen = await ctx.state.ns('so.board').get('k');
         ctx.state.ns('so.board').set('k', seen + 1);
         return seen;
       }`,
      { shared: { 'so.board': 'rw' } },
    );
    const caller = versions.add(
      'so.caller',
      `export default async (i, ctx) => {
         const b = ctx.state.ns('so.board');
         b.set('k', 10);
         const seenByCallee = await ctx.call('so.callee', null);
         const after = await b.get('k');
         await ctx.state.set('own', after);
         return { seenByCallee, after, own: await ctx.state.get('own') };
       }`,
      { shared: { 'so.board': 'rw' }, dependencies: { 'so.callee': '*' } },
    );
    const r = ok(await pool.run(spec(caller, null, { links: { [caller]: { 'so.callee': callee } } })));
    expect(r.output).toEqual({ seenByCallee: 10, after: 11, own: 11 });
    expect(r.txn.writes).toEqual([
      ['shared:so.board', 'k', '11'],
      ['so.caller', 'own', '11'],
    ]);
  });

  it('keeps writes left un-awaited when the call returns, in order, also past the flush threshold', async () => {
    const h = versions.add(
      'so.bulk',
      `export default async (i, ctx) => {
         const big = 'x'.repeat(300 * 1024);
         for (let n = 0; n < 8; n++) ctx.state.set('big' + n, big);
         ctx.state.set('last', 1);
         ctx.state.delete('big7');
         ctx.state.set('last', 2);
         return 'done';
       }`,
    );
    const r = ok(await pool.run(spec(h, null)));
    expect(r.txn.writes.map(([, k, v]) => [k, v === null ? null : v.length])).toEqual([
      ...Array.from({ length: 7 }, (_, n) => [`big${n}`, 300 * 1024 + 2]),
      ['big7', null],
      ['last', 1],
    ]);
  });

  it('refuses in the set itself what the host would refuse, and the call goes on', async () => {
    const h = versions.add(
      'so.limits',
      `export default async (i, ctx) => {
         const out = [];
         const tries = [
           () => ctx.state.set('é'.repeat(256) + 'x', 1),        // 513 bytes of UTF-8
           () => ctx.state.set('é'.repeat(256), 1),              // 512 bytes: fine
           () => ctx.state.set('a\\ud800b', 1),                    // a lone surrogate
           () => ctx.state.delete(''),
           () => ctx.state.set('v', 'é'.repeat(600 * 1024)),     // 1.2 MB of UTF-8, 0.6 M characters
           () => ctx.state.ns('so.ro').set('k', 1),
           () => ctx.state.ns('so.ro').delete('k'),
         ];
         for (const f of tries) {
           try { await f(); out.push('ok'); } catch (e) { out.push(e.type + ':' + (e.data && (e.data.what || e.data.access))); }
         }
         out.push(await ctx.state.get('é'.repeat(256)));
         return out;
       }`,
      { shared: { 'so.ro': 'r' } },
    );
    const r = ok(await pool.run(spec(h, null)));
    expect(r.output).toEqual([
      'PAYLOAD_TOO_LARGE:key',
      'ok',
      'INVALID_INPUT:key',
      'INVALID_INPUT:key',
      'PAYLOAD_TOO_LARGE:value',
      'STATE_FORBIDDEN:r',
      'STATE_FORBIDDEN:r',
      1,
    ]);
    expect(r.txn.writes).toEqual([['so.limits', 'é'.repeat(256), '1']]);
  });

  it('a failed nested call loses its un-awaited writes; its caller keeps its own', async () => {
    const failing = versions.add('so.failing', 'export default async (i, ctx) => { ctx.state.set("lost", 1); throw new Error("no"); };');
    const root = versions.add(
      'so.root',
      `export default async (i, ctx) => {
         ctx.state.set('mine', 1);
         try { await ctx.call('so.failing', null); } catch (e) {}
         return 1;
       }`,
      { dependencies: { 'so.failing': '*' } },
    );
    const r = ok(await pool.run(spec(root, null, { links: { [root]: { 'so.failing': failing } } })));
    expect(r.txn.writes).toEqual([['so.root', 'mine', '1']]);
  });
});
