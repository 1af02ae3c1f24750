// Issue 10, item 2: JSON Schema validation as an attack. Each pathological schema gets its typed
// error (TIMEOUT within the capability's deadline when validating costs too much, INVALID_MANIFEST
// naming the limit when compiling would), and meanwhile kernel/info answers and another capability
// on the same (only) worker keeps returning correct results.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cap, expectType, startTestKernel, type TestKernel } from './helpers.ts';
import type { SubstrateClient } from '../kernel/client.ts';
import type { Json } from '../capabilities/types.ts';

let k: TestKernel;
let c: SubstrateClient;

beforeAll(async () => {
  k = await startTestKernel({ workers: 1 });
  c = await k.client();
  await c.call('capabilities/register', {
    source: cap({
      name: 'good.double',
      body: 'return { y: input.x * 2 };',
      inputSchema: { type: 'object', properties: { x: { type: 'number' } }, required: ['x'] },
      outputSchema: { type: 'object', properties: { y: { type: 'number' } } },
    }),
  });
});
afterAll(async () => {
  await k?.stop();
});

const EVIL = '^(a+)+$';
const evilString = 'a'.repeat(40) + '!';

/** Invokes `name` with `input`; while that call runs, the kernel and good.double answer. Returns the
 *  call's error. */
async function attack(name: string, input: Json) {
  let settled = false;
  const call = c.call('capabilities/invoke', { name, input }).then(
    (r) => {
      settled = true;
      return { ok: true as const, r };
    },
    (e: unknown) => {
      settled = true;
      return { ok: false as const, e: e as { type: string; message: string; data: Record<string, unknown> } };
    },
  );
  // The attacked call takes its whole deadline (3 s); these are answered long before.
  await new Promise((r) => setTimeout(r, 300));
  let answeredDuring = 0;
  for (let i = 1; i <= 5; i++) {
    const info = await c.call('kernel/info');
    expect(info.capabilities).toBeGreaterThan(0);
    const good = await c.call('capabilities/invoke', { name: 'good.double', input: { x: i } });
    expect(good.output).toEqual({ y: 2 * i });
    if (!settled) answeredDuring++;
  }
  const outcome = await call;
  expect(answeredDuring, 'the other capability answered while the pathological validation ran').toBe(5);
  // And afterwards.
  expect((await c.call('capabilities/invoke', { name: 'good.double', input: { x: 21 } })).output).toEqual({ y: 42 });
  await c.call('kernel/info');
  if (outcome.ok) throw new Error(`expected an error, got ${JSON.stringify(outcome.r)}`);
  return outcome.e;
}

async function register(name: string, schemas: { inputSchema?: object; outputSchema?: object }, body = 'return {};') {
  await c.call('capabilities/register', { source: cap({ name, body, limits: { timeoutMs: 3000 }, ...schemas }) });
}

describe('validation that would take too long ends at the deadline, alone', () => {
  it('a backtracking pattern in the inputSchema: TIMEOUT', async () => {
    await register('evil.pattern', { inputSchema: { type: 'object', properties: { s: { type: 'string', pattern: EVIL } } } });
    const e = await attack('evil.pattern', { s: evilString });
    expect(e.type).toBe('TIMEOUT');
    // The validator's own timeout names the phase; on a loaded machine the call tree's backstop (just
    // after the deadline) may answer first with a plain TIMEOUT. Either way the call did not pass.
    if (e.data.during !== undefined) expect(e.data.during).toBe('input validation');
  });

  it('a backtracking patternProperties key: TIMEOUT', async () => {
    await register('evil.pattern-props', { inputSchema: { type: 'object', patternProperties: { [EVIL]: { type: 'number' } } } });
    const e = await attack('evil.pattern-props', { [evilString]: 1 });
    expect(e.type).toBe('TIMEOUT');
  });

  it('uniqueItems over a huge array of distinct objects: TIMEOUT', async () => {
    await register('evil.unique', { inputSchema: { type: 'object', properties: { a: { type: 'array', uniqueItems: true } } } });
    const a = Array.from({ length: 70_000 }, (_, i) => ({ v: i }));
    const e = await attack('evil.unique', { a });
    expect(e.type).toBe('TIMEOUT');
  });

  it('$ref fan-out exponential in the schema: TIMEOUT', async () => {
    const definitions: Record<string, object> = { d30: { type: 'string' } };
    for (let i = 0; i < 30; i++) definitions[`d${i}`] = { allOf: [{ $ref: `#/definitions/d${i + 1}` }, { $ref: `#/definitions/d${i + 1}` }] };
    await register('evil.fanout', { inputSchema: { definitions, $ref: '#/definitions/d0' } });
    const e = await attack('evil.fanout', 'x');
    expect(e.type).toBe('TIMEOUT');
  });

  it('a backtracking pattern in the outputSchema: TIMEOUT, the capability cannot skip it', async () => {
    // The capability tampers with RegExp in its own isolate: the validator does not live there.
    await register(
      'evil.output',
      { outputSchema: { type: 'object', properties: { s: { type: 'string', pattern: EVIL } } } },
      `RegExp.prototype.test = () => true; RegExp.prototype.exec = () => [];
       return { s: ${JSON.stringify(evilString)} };`,
    );
    const e = await attack('evil.output', {});
    expect(e.type).toBe('TIMEOUT');
    // The validator's own timeout names the phase; on a loaded machine the call tree's backstop (just
    // after the deadline) may answer first with a plain TIMEOUT. Either way the call did not pass.
    if (e.data.during !== undefined) expect(e.data.during).toBe('output validation');
  });

  it('a pattern still validates correctly, inside and outside the isolate', async () => {
    await register('ok.pattern', { inputSchema: { type: 'object', properties: { s: { type: 'string', pattern: '^a+$' } } }, outputSchema: { type: 'object', required: ['s'] } }, 'return input;');
    expect((await c.call('capabilities/invoke', { name: 'ok.pattern', input: { s: 'aaa' } })).output).toEqual({ s: 'aaa' });
    const bad = await expectType(c.call('capabilities/invoke', { name: 'ok.pattern', input: { s: 'aab' } }), 'INVALID_INPUT');
    expect(bad.data.path).toBe('/s');
    const missing = await expectType(c.call('capabilities/invoke', { name: 'ok.pattern', input: {} }), 'INVALID_OUTPUT');
    expect(missing.data.path).toBe('/s');
  });

  it('a $ref that recurses without consuming data: a typed error, not a crash', async () => {
    await register('evil.selfref', { inputSchema: { definitions: { a: { anyOf: [{ $ref: '#/definitions/a' }] } }, $ref: '#/definitions/a' } });
    // The validator overflows its isolate's stack at once: the value cannot be shown valid.
    const e = await expectType(c.call('capabilities/invoke', { name: 'evil.selfref', input: 1 }), 'INVALID_INPUT');
    expect(e.message).toMatch(/could not be evaluated/);
    expect((await c.call('capabilities/invoke', { name: 'good.double', input: { x: 4 } })).output).toEqual({ y: 8 });
  });
});

describe('a schema too costly to compile is refused at registration', () => {
  async function refused(inputSchema: object) {
    const started = Date.now();
    const p = c.call('capabilities/register', { source: cap({ name: 'evil.compile', inputSchema }) });
    // The kernel answers while it compiles.
    const info = await c.call('kernel/info');
    expect(info.capabilities).toBeGreaterThan(0);
    const e = await expectType(p, 'INVALID_MANIFEST');
    expect(Date.now() - started).toBeGreaterThanOrEqual(0);
    return e;
  }

  it('larger than the node limit', async () => {
    const properties: Record<string, object> = {};
    for (let i = 0; i < 8000; i++) properties[`p${i}`] = { type: 'string' };
    const e = await refused({ type: 'object', properties });
    expect(e.message).toMatch(/schemaNodes/);
    expect(e.data.issues).toEqual([expect.objectContaining({ path: 'inputSchema' })]);
  });

  it('deeper than the depth limit', async () => {
    let s: object = { type: 'string' };
    for (let i = 0; i < 100; i++) s = { items: s };
    const e = await refused(s as object);
    expect(e.message).toMatch(/schemaDepth/);
  });

  it('more $refs than the limit', async () => {
    const properties: Record<string, object> = {};
    for (let i = 0; i < 600; i++) properties[`p${i}`] = { $ref: '#/definitions/x' };
    const e = await refused({ definitions: { x: { type: 'number' } }, properties });
    expect(e.message).toMatch(/schemaRefs/);
  });

  it('within the static limits but slow to compile: refused by the compile time limit', async () => {
    // 4,000 properties (16,000 nodes, within schemaNodes): ajv's code generation is superlinear in
    // them (1,500 took about a second on the test box).
    const properties: Record<string, object> = {};
    for (let i = 0; i < 4000; i++) properties[`q${i}`] = { type: 'number' };
    const e = await refused({ type: 'object', properties });
    // Either the time limit or ajv's own recursion gives up first: both refuse, neither stalls.
    expect(e.message).toMatch(/schemaCompileMs|too costly|call stack/);
  });

  it('$async schemas are refused', async () => {
    const e = await refused({ $async: true, type: 'object' });
    expect(e.message).toMatch(/\$async/);
  });
});
