// Issue 14, records: root invocations recorded per version with input, output or error, the state
// values the committed run read and its egress exchanges; bounded per version; `record: false`
// honoured; never a secret (set with secrets/set, echoed back by the server); records/list for
// operators and owners only.

import { rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RECORDS_PER_VERSION, type CallRecord } from '../capabilities/evaluation.ts';
import type { SubstrateClient } from '../kernel/client.ts';
import { openWritable } from '../store/db.ts';
import { migrate } from '../store/migrations.ts';
import { RecordTable, recordBody } from '../store/records.ts';
import { Evaluation, RECORD_BURST, RECORDS_PER_S } from '../kernel/call-trace.ts';
import type { Records } from '../kernel/records.ts';
import { cap, expectType, startTestKernel, tmpDir, type TestKernel } from './helpers.ts';

const SECRET = 'rec-S3CRET-7d1e5a';

describe('RecordTable (store/records.ts)', () => {
  it('keeps the newest perVersion rows of each version, newest first, paged by seq', () => {
    const dir = tmpDir();
    const db = openWritable(path.join(dir, 'r.db'));
    migrate(db);
    const t = new RecordTable(db, 5);
    const rec = (hash: string, i: number): CallRecord => ({
      id: `rec_${hash}${i}`, at: i, name: `n.${hash}`, version: '1.0.0', hash, generation: 1, invocationId: `inv${i}`,
      input: { i }, output: i, durationMs: 1, reads: [], egress: [], replayable: true,
    });
    for (let i = 0; i < 12; i++) t.append([rec('a', i), rec('b', i)].map((record) => ({ record, body: recordBody(record) })));
    t.append(Array.from({ length: 9 }, (_, i) => rec('a', 100 + i)).map((record) => ({ record, body: recordBody(record) })));
    expect(t.count('a')).toBe(5);
    expect(t.count('b')).toBe(5);
    const a = t.list({ hash: 'a', limit: 10 });
    expect(a.map((r) => r.input)).toEqual([108, 107, 106, 105, 104].map((i) => ({ i })));
    expect(t.list({ name: 'n.b', limit: 2, before: t.list({ hash: 'b', limit: 1 })[0].seq }).map((r) => r.output)).toEqual([10, 9]);
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('the record budget (kernel/call-trace.ts)', () => {
  it(`a version records ${RECORD_BURST} calls at once, then ${RECORDS_PER_S} a second`, () => {
    let now = 1_000_000;
    const added: CallRecord[] = [];
    const records = { add: (r: CallRecord) => added.push(r) } as unknown as Records;
    const ev = new Evaluation(null, records, () => true, () => now);
    const root = { hash: 'h', name: 'b.x', version: '1.0.0' };
    const call = (i: number) => ev.begin(root, i, 1, `inv${i}`, false)!.end(undefined, 1);
    for (let i = 0; i < RECORD_BURST + 50; i++) call(i);
    expect(added).toHaveLength(RECORD_BURST);
    now += 1000;
    for (let i = 0; i < 500; i++) call(i);
    expect(added).toHaveLength(RECORD_BURST + RECORDS_PER_S);
    // Another version has its own budget.
    ev.begin({ ...root, hash: 'h2' }, 0, 1, 'other', false)!.end(undefined, 1);
    expect(added.at(-1)?.hash).toBe('h2');
  });
});

describe('records of a real kernel', () => {
  let k: TestKernel;
  let op: SubstrateClient;
  let http: Server;
  let port: number;
  let closedPort: number;
  let ownerTok: { id: string; token: string };

  beforeAll(async () => {
    http = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        res.setHeader('x-echo', String(req.headers.authorization ?? ''));
        res.end(JSON.stringify({ path: req.url, body: Buffer.concat(chunks).toString(), auth: req.headers.authorization ?? null }));
      });
    });
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    port = (http.address() as AddressInfo).port;
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    closedPort = (probe.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    k = await startTestKernel({ workers: 2 });
    op = await k.client();
    await op.call('secrets/set', { name: 'rec-key', value: SECRET, hosts: [`127.0.0.1:${port}`] });
    const host = `127.0.0.1:${port}`;
    await op.call('capabilities/apply', {
      changes: [
        { op: 'register', source: cap({ name: 'rc.echo', inputSchema: { type: 'object' }, body: 'if (input.fail) throw new Error("failing as asked"); return { got: input };' }) },
        { op: 'register', source: cap({ name: 'rc.off', body: 'return 1;' }).replace('"description"', '"record":false,"description"') },
        {
          op: 'register',
          source: cap({
            name: 'rc.reads',
            effects: { http: [{ host, secrets: ['rec-key'] }, `127.0.0.1:${closedPort}`] },
            body: `
              const a = await ctx.state.get('a');
              const missing = await ctx.state.get('missing');
              if (input.list) await ctx.state.list();
              const r = await fetch('http://${host}/hello', { method: 'POST', headers: { 'x-mine': 'mine' }, body: 'payload' });
              const text = await r.text();
              if (input.broken) { try { await fetch('http://127.0.0.1:${closedPort}/'); } catch {} }
              return { a, missing, echoed: JSON.parse(text).auth, header: r.headers.get('x-echo') };`,
          }),
        },
        { op: 'register', source: cap({ name: 'rc.incr', body: 'const n = (await ctx.state.get("n")) ?? 0; await ctx.state.set("n", n + 1); return n + 1;' }) },
      ],
    });
    ownerTok = k.auth.create('agent', 'owner');
    const owner = await k.client(ownerTok.token);
    await owner.call('capabilities/register', { source: cap({ name: 'rc.owned', body: 'return input;' }) });
    await owner.call('capabilities/invoke', { name: 'rc.owned', input: { secretive: 1 } });
  }, 120_000);

  afterAll(async () => {
    await k?.stop();
    http?.close();
  });

  const hashOf = (name: string) => k.kernel.currentGraph().current(name)!.hash;
  const call = (name: string, input: unknown = {}) => op.call('capabilities/invoke', { name, input: input as never });

  it('input and output, or the error; generation and duration; newest first', async () => {
    await call('rc.echo', { n: 1 });
    await expectType(call('rc.echo', { fail: true }), 'CAPABILITY_ERROR');
    const [failed, ok] = k.kernel.records!.list(hashOf('rc.echo'), 10);
    expect(ok).toMatchObject({ name: 'rc.echo', version: '1.0.0', hash: hashOf('rc.echo'), generation: k.kernel.currentGeneration(), input: { n: 1 }, output: { got: { n: 1 } }, reads: [], egress: [], replayable: true });
    expect(ok.error).toBeUndefined();
    expect(ok.durationMs).toBeGreaterThan(0);
    expect(failed).toMatchObject({ input: { fail: true }, error: { type: 'CAPABILITY_ERROR' } });
    expect(failed.error!.message).toContain('failing as asked');
    expect('output' in failed).toBe(false);
    // By name and version too.
    expect(k.kernel.records!.list({ name: 'rc.echo', version: '1.0.0' }, 1)[0].id).toBe(failed.id);
  });

  it('record: false keeps nothing (metrics still count)', async () => {
    await call('rc.off');
    await call('rc.off');
    expect(k.kernel.records!.list(hashOf('rc.off'), 10)).toEqual([]);
    expect(k.kernel.metrics!.total(hashOf('rc.off'))?.calls).toBe(2);
  });

  it('the state values read and the egress exchanges; no secret anywhere', async () => {
    // The value to read, written straight to the store.
    k.kernel.store.commitState({ reads: [], nsReads: [], writes: [['rc.reads', 'a', '{"x":1}']] });
    const out = (await call('rc.reads')).output as Record<string, unknown>;
    // The capability never sees the secret: the response it got is redacted.
    expect(JSON.stringify(out)).not.toContain(SECRET);
    expect(out.echoed).toBe('[REDACTED:rec-key]');
    const [rec] = k.kernel.records!.list(hashOf('rc.reads'), 1);
    expect(rec.reads).toEqual([['rc.reads', 'a', '{"x":1}'], ['rc.reads', 'missing', null]]);
    expect(rec.replayable).toBe(true);
    expect(rec.egress).toHaveLength(1);
    const [{ request, response }] = rec.egress;
    expect(request).toMatchObject({ method: 'POST', url: `http://127.0.0.1:${port}/hello`, body: Buffer.from('payload').toString('base64') });
    expect(request.headers).toContainEqual(['x-mine', 'mine']);
    expect(request.headers.some(([n]) => n === 'authorization')).toBe(false);
    expect(response.status).toBe(200);
    const served = JSON.parse(Buffer.from(response.body, 'base64').toString()) as { path: string; body: string };
    expect(served).toMatchObject({ path: '/hello', body: 'payload' });
    // Nowhere in what the kernel keeps: not in the list, not in the SQLite file's rows.
    k.kernel.records!.flush();
    expect(JSON.stringify(k.kernel.records!.list({ name: 'rc.reads' }, 100))).not.toContain(SECRET);
    const raw = new Database(path.join(k.dataDir, 'substrate.db'), { readonly: true });
    try {
      const bodies = raw.prepare<[], string>('SELECT body FROM call_records').pluck().all();
      expect(bodies.length).toBeGreaterThan(0);
      for (const b of bodies) expect(b).not.toContain(SECRET);
    } finally {
      raw.close();
    }
  });

  it('state.list or a failed request makes a record unreplayable', async () => {
    await call('rc.reads', { list: true });
    expect(k.kernel.records!.list(hashOf('rc.reads'), 1)[0].replayable).toBe(false);
    await call('rc.reads', { broken: true });
    const [rec] = k.kernel.records!.list(hashOf('rc.reads'), 1);
    expect(rec.input).toEqual({ broken: true });
    expect(rec.replayable).toBe(false);
    expect(rec.egress).toHaveLength(1);
  });

  it('a re-run call is recorded with the reads of the run that committed', async () => {
    const clients = await Promise.all(Array.from({ length: 8 }, () => k.client()));
    await Promise.all(clients.map(async (c) => {
      for (let i = 0; i < 8; i++) await c.call('capabilities/invoke', { name: 'rc.incr', input: null });
    }));
    const recs = k.kernel.records!.list(hashOf('rc.incr'), 100);
    expect(recs).toHaveLength(64);
    expect(k.kernel.metrics!.total(hashOf('rc.incr'))!.reruns).toBeGreaterThanOrEqual(0);
    for (const r of recs) {
      const read = r.reads.find(([, key]) => key === 'n')!;
      expect((read[2] === null ? 0 : Number(read[2])) + 1).toBe(r.output);
    }
    expect(new Set(recs.map((r) => r.output)).size).toBe(64);
  }, 120_000);

  it(`bounded: a version keeps its newest ${RECORDS_PER_VERSION}`, async () => {
    const clients = await Promise.all(Array.from({ length: 10 }, () => k.client()));
    const total = RECORDS_PER_VERSION + 40;
    let next = 0;
    await Promise.all(clients.map(async (c) => {
      while (next < total) {
        const i = next++;
        await c.call('capabilities/invoke', { name: 'rc.echo', input: { i } });
      }
    }));
    k.kernel.records!.flush();
    expect(k.kernel.store.records.count(hashOf('rc.echo'))).toBe(RECORDS_PER_VERSION);
    const all = k.kernel.records!.list(hashOf('rc.echo'), 5000);
    expect(all).toHaveLength(RECORDS_PER_VERSION);
    // The oldest went: the records of the first test are no longer kept.
    expect(all.some((r) => JSON.stringify(r.input) === '{"n":1}' || JSON.stringify(r.input) === '{"fail":true}')).toBe(false);
  }, 120_000);

  it('records/list: operators and the owner; other agents and clients are refused', async () => {
    const page = await op.call('records/list', { name: 'rc.echo', limit: 3 });
    expect(page.items).toHaveLength(3);
    expect(typeof page.items[0].at).toBe('string');
    expect(page.nextCursor).not.toBeNull();
    const next = await op.call('records/list', { name: 'rc.echo', limit: 3, cursor: page.nextCursor! });
    expect(next.items[0].id).not.toBe(page.items[2].id);
    const owner = await k.client(ownerTok.token);
    expect((await owner.call('records/list', { name: 'rc.owned' })).items[0]).toMatchObject({ input: { secretive: 1 }, output: { secretive: 1 } });
    await expectType(owner.call('records/list', { name: 'rc.echo' }), 'FORBIDDEN');
    const client = await k.client(k.auth.create('client', 'c').token);
    await expectType(client.call('records/list', { name: 'rc.owned' }), 'FORBIDDEN');
    await expectType(op.call('records/list', { name: 'rc.echo', version: '9.9.9' }), 'NOT_FOUND');
  });
});

describe('records across a restart', () => {
  it('are in SQLite: a reopened kernel lists them; metrics start again from zero', async () => {
    const dataDir = tmpDir();
    let k = await startTestKernel({ dataDir });
    try {
      const op = await k.client();
      await op.call('capabilities/register', { source: cap({ name: 'rr.echo', body: 'return input;' }) });
      await op.call('capabilities/invoke', { name: 'rr.echo', input: { before: 'restart' } });
      await k.stop();
      k = await startTestKernel({ dataDir });
      const hash = k.kernel.currentGraph().current('rr.echo')!.hash;
      expect(k.kernel.records!.list(hash, 10).map((r) => r.input)).toEqual([{ before: 'restart' }]);
      expect(k.kernel.metrics!.total(hash)).toBeUndefined();
    } finally {
      await k.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 120_000);
});
