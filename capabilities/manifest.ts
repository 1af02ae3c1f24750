// The manifest: its wire schema (zod, strict: an unknown key is an error, since a misspelt
// `dependecies` silently ignored would be worse) and its normalization into the Manifest of
// types.ts with every default filled in. Version ordering (VERSION_NOT_NEWER) and clashes with
// stored versions are the kernel's business, not this module's.

import semver from 'semver';
import { z } from 'zod';
import { ERROR_TYPES, fail } from './errors.ts';
import { cronProblem, timezoneProblem } from './cron.ts';
import { HTTP_METHODS, parseDestination } from './destinations.ts';
import { EFFECT_LIMITS, type Effects } from './effects.ts';
import { DEFAULT_RETRY, JOB_LIMITS, RETRY_LIMITS } from './jobs.ts';
import { nameProblem } from './names.ts';
import { checkSchemaCost, compileSchema } from './schema.ts';
import { KERNEL_LIMITS, type Json, type JsonObject, type Manifest, type TestCase } from './types.ts';

/** Where a value is not JSON, as a short phrase, or null when it is JSON. `undefined` at the top
 *  is reported as missing. Iterative, so a deeply nested value cannot overflow the stack. */
function jsonProblem(value: unknown): string | null {
  if (value === undefined) return 'is required';
  const stack: Array<[unknown, string]> = [[value, '']];
  const seen = new Set<object>();
  while (stack.length) {
    const [v, at] = stack.pop()!;
    const where = at ? ` at ${at}` : '';
    if (v === null || typeof v === 'string' || typeof v === 'boolean') continue;
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) return `must be JSON (${v} is not a JSON number${where})`;
      continue;
    }
    if (typeof v !== 'object') return `must be JSON (found ${typeof v}${where})`;
    if (seen.has(v)) return `must be JSON (circular reference${where})`;
    seen.add(v);
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) {
        if (v[i] === undefined) return `must be JSON (undefined${` at ${at}[${i}]`})`;
        stack.push([v[i], `${at}[${i}]`]);
      }
      continue;
    }
    const proto = Object.getPrototypeOf(v);
    if (proto !== Object.prototype && proto !== null) return `must be JSON (found ${proto?.constructor?.name ?? 'object'}${where})`;
    const keys = Object.keys(v);
    for (let i = keys.length - 1; i >= 0; i--) {
      const child = (v as Record<string, unknown>)[keys[i]];
      // A key holding undefined is simply absent once serialized.
      if (child !== undefined) stack.push([child, `${at}${formatKey(keys[i])}`]);
    }
  }
  return null;
}

const TYPE_ERROR = (expected: string) => ({
  error: (issue: { input?: unknown }) => (issue.input === undefined ? 'is required' : `must be ${expected}`),
});

const json = () =>
  z.custom<Json>().superRefine((v, ctx) => {
    const problem = jsonProblem(v);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

const jsonObject = () =>
  z.custom<JsonObject>().superRefine((v, ctx) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) {
      ctx.addIssue({ code: 'custom', message: v === undefined ? 'is required' : 'must be an object' });
      return;
    }
    const problem = jsonProblem(v);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

// compile: false checks only what is linear to check (SCHEMA_LIMITS); the caller compiles the
// schema where a costly compile cannot stall it (the kernel: sandbox/schema-compiler.ts).
const jsonSchema = (compile: boolean) =>
  jsonObject().superRefine((v, ctx) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v) || jsonProblem(v)) return;
    try {
      if (compile) compileSchema(v);
      else checkSchemaCost(v);
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: e instanceof Error ? e.message : String(e) });
    }
  });

const name = () =>
  z.string(TYPE_ERROR('a string')).superRefine((v, ctx) => {
    const problem = nameProblem(v);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

const version = z.string(TYPE_ERROR('a string')).refine((v) => semver.valid(v) === v, {
  message: 'must be a semver version in canonical form, like 1.2.3 or 2.0.0-beta.1',
});

const range = z.string(TYPE_ERROR('a string')).refine((v) => v.trim() !== '' && semver.validRange(v) !== null, {
  message: 'must be a semver range, like ^1.2.0',
});

const int = (min: number, max: number, dflt: number) =>
  z
    .int(TYPE_ERROR('an integer'))
    .min(min, `must be at least ${min}`)
    .max(max, `must be at most ${max}`)
    .default(dflt);

const record = <V extends z.ZodType>(key: z.ZodType<string>, value: V) => z.record(key, value, TYPE_ERROR('an object'));

const method = z
  .string(TYPE_ERROR('a string'))
  .transform((m) => m.toUpperCase())
  .refine((m) => (HTTP_METHODS as readonly string[]).includes(m), `must be one of ${HTTP_METHODS.join(', ')}`);

const destination = z.string(TYPE_ERROR('a string')).superRefine((v, ctx) => {
  const d = parseDestination(v);
  if (typeof d === 'string') ctx.addIssue({ code: 'custom', message: `destination ${JSON.stringify(v)} ${d}` });
});

const httpEffect = z.union(
  [
    destination.transform((host) => ({ host })),
    z.strictObject(
      {
        host: destination,
        methods: z.array(method, TYPE_ERROR('an array')).min(1, 'must list at least one method (leave it out for all)').optional(),
        secrets: z.array(name(), TYPE_ERROR('an array')).max(16, 'must name at most 16 secrets').optional(),
      },
      TYPE_ERROR('an object'),
    ),
  ],
  { error: 'must be a destination string or { host, methods?, secrets? }' },
);

const limitBelow = (max: number) => z.number(TYPE_ERROR('a number')).int(TYPE_ERROR('an integer')).min(1, 'must be at least 1').max(max, `must be at most ${max} (the kernel's limit)`).optional();

const effects = z.strictObject(
  {
    http: z.array(httpEffect, TYPE_ERROR('an array')).max(64, 'must list at most 64 destinations').default(() => []),
    limits: z
      .strictObject(
        {
          requests: limitBelow(EFFECT_LIMITS.requests),
          inFlight: limitBelow(EFFECT_LIMITS.inFlight),
          requestBodyBytes: limitBelow(EFFECT_LIMITS.requestBodyBytes),
          responseBodyBytes: limitBelow(EFFECT_LIMITS.responseBodyBytes),
        },
        TYPE_ERROR('an object'),
      )
      .optional(),
  },
  TYPE_ERROR('an object'),
);

const httpFixture = z.strictObject(
  {
    request: z.strictObject({ method: method.optional(), url: z.string(TYPE_ERROR('a string')).url('must be an absolute URL') }, TYPE_ERROR('an object')),
    response: z
      .strictObject(
        {
          status: z.number(TYPE_ERROR('a number')).int(TYPE_ERROR('an integer')).min(200, 'must be 200-599').max(599, 'must be 200-599').optional(),
          headers: record(z.string(), z.string(TYPE_ERROR('a string'))).optional(),
          body: json().optional(),
        },
        TYPE_ERROR('an object'),
      )
      .prefault(() => ({})),
  },
  TYPE_ERROR('an object'),
);

const testCase = z.strictObject(
  {
    name: z.string(TYPE_ERROR('a string')).refine((v) => v.trim() !== '', 'must not be empty'),
    input: json(),
    expect: json().optional(),
    expectError: z
      .strictObject(
        {
          type: z.enum(ERROR_TYPES, { error: "must be one of the contract's error types, like CAPABILITY_ERROR or INVALID_INPUT" }),
          message: z.string(TYPE_ERROR('a string')).optional(),
        },
        TYPE_ERROR('an object'),
      )
      .optional(),
    state: record(z.string(), json()).optional(),
    sharedState: record(name(), record(z.string(), json())).optional(),
    expectJobs: z
      .array(z.strictObject({ name: name(), input: json().optional() }, TYPE_ERROR('an object')), TYPE_ERROR('an array'))
      .max(JOB_LIMITS.maxPerRun, `must list at most ${JOB_LIMITS.maxPerRun} jobs`)
      .optional(),
    http: z.array(httpFixture, TYPE_ERROR('an array')).max(EFFECT_LIMITS.requests, `must list at most ${EFFECT_LIMITS.requests} fixtures`).optional(),
  },
  TYPE_ERROR('an object'),
);

const schedule = z
  .strictObject(
    {
      cron: z.string(TYPE_ERROR('a string')),
      input: json().default(null),
      timezone: z.string(TYPE_ERROR('a string')).default('UTC'),
      catchUp: z.enum(['latest', 'none', 'all'], { error: 'must be "latest", "none" or "all"' }).default('latest'),
      overlap: z.enum(['skip', 'allow'], { error: 'must be "skip" or "allow"' }).default('skip'),
    },
    TYPE_ERROR('an object'),
  )
  .superRefine((v, ctx) => {
    const tz = timezoneProblem(v.timezone);
    if (tz) ctx.addIssue({ code: 'custom', message: tz, path: ['timezone'] });
    const cron = tz ? null : cronProblem(v.cron, v.timezone);
    if (cron) ctx.addIssue({ code: 'custom', message: cron, path: ['cron'] });
  });

const manifestSchemaOf = (compileSchemas: boolean) => z.strictObject(
  {
    name: name(),
    version,
    description: z.string(TYPE_ERROR('a string')).default(''),
    inputSchema: jsonSchema(compileSchemas).optional(),
    outputSchema: jsonSchema(compileSchemas).optional(),
    dependencies: record(name(), range).default(() => ({})),
    state: z
      .strictObject(
        { shared: record(name(), z.enum(['r', 'rw'], { error: 'must be "r" or "rw"' })).default(() => ({})) },
        TYPE_ERROR('an object'),
      )
      .prefault(() => ({})),
    limits: z
      .strictObject(
        {
          timeoutMs: int(1, KERNEL_LIMITS.maxTimeoutMs, KERNEL_LIMITS.defaultTimeoutMs),
          memoryMb: int(8, KERNEL_LIMITS.maxMemoryMb, KERNEL_LIMITS.defaultMemoryMb),
        },
        TYPE_ERROR('an object'),
      )
      .prefault(() => ({})),
    tests: z
      .array(testCase, TYPE_ERROR('an array'))
      .max(KERNEL_LIMITS.maxTestsPerVersion, `must have at most ${KERNEL_LIMITS.maxTestsPerVersion} tests (the kernel's limit maxTestsPerVersion)`)
      .default(() => []),
    retry: z
      .strictObject(
        {
          attempts: int(1, RETRY_LIMITS.maxAttempts, DEFAULT_RETRY.attempts),
          backoffMs: int(0, RETRY_LIMITS.maxBackoffMs, DEFAULT_RETRY.backoffMs),
        },
        TYPE_ERROR('an object'),
      )
      .optional(),
    schedules: z.array(schedule, TYPE_ERROR('an array')).max(JOB_LIMITS.maxSchedules, `must have at most ${JOB_LIMITS.maxSchedules} schedules`).optional(),
    effects: effects.optional(),
    record: z.boolean(TYPE_ERROR('a boolean')).optional(),
  },
  { error: 'expected an object' },
);

export const manifestSchema = manifestSchemaOf(true);
const manifestSchemaUncompiled = manifestSchemaOf(false);

/** What a manifest may look like before defaults are filled in. */
export type ManifestInput = z.input<typeof manifestSchema>;

export interface ManifestIssue {
  path: string;
  message: string;
}

/** Validates and normalizes a manifest. Throws INVALID_MANIFEST whose message names the first bad
 *  field and whose data.issues lists every problem found as `{ path, message }`. With
 *  `compileSchemas: false` the schemas are only checked against SCHEMA_LIMITS, not compiled. */
export function parseManifest(raw: unknown, opts: { compileSchemas?: boolean } = {}): Manifest {
  const parsed = (opts.compileSchemas === false ? manifestSchemaUncompiled : manifestSchema).safeParse(raw);
  if (!parsed.success) throw invalid(parsed.error.issues.flatMap(toIssues));
  const m = parsed.data;
  const issues: ManifestIssue[] = [];
  // A capability may name itself: recursion (bounded by the call depth), or a new version wrapping
  // an older one of the same name. See findCycle in graph.ts.
  const names = new Set<string>();
  m.tests.forEach((t, i) => {
    const at = `tests[${i}]`;
    if (names.has(t.name)) issues.push({ path: `${at}.name`, message: `duplicate test name ${JSON.stringify(t.name)}` });
    names.add(t.name);
    if (t.expect !== undefined && t.expectError !== undefined) {
      issues.push({ path: at, message: 'has both expect and expectError; give one of them' });
    }
    for (const ns of Object.keys(t.sharedState ?? {})) {
      if (!Object.hasOwn(m.state.shared, ns)) {
        issues.push({ path: `${at}.sharedState${formatKey(ns)}`, message: 'seeds a shared namespace the manifest does not grant in state.shared' });
      }
    }
  });
  if (issues.length) throw invalid(issues);

  const manifest: Manifest = {
    name: m.name,
    version: m.version,
    description: m.description,
    dependencies: { ...m.dependencies },
    state: { shared: { ...m.state.shared } },
    limits: { timeoutMs: m.limits.timeoutMs, memoryMb: m.limits.memoryMb },
    tests: m.tests.map((t) => {
      const test: TestCase = { name: t.name, input: t.input };
      if (t.expect !== undefined) test.expect = t.expect;
      if (t.expectError !== undefined) {
        test.expectError = { type: t.expectError.type };
        if (t.expectError.message !== undefined) test.expectError.message = t.expectError.message;
      }
      if (t.state !== undefined) test.state = t.state;
      if (t.sharedState !== undefined) test.sharedState = t.sharedState;
      if (t.expectJobs !== undefined) test.expectJobs = t.expectJobs.map((j) => (j.input === undefined ? { name: j.name } : { name: j.name, input: j.input }));
      if (t.http !== undefined) {
        test.http = t.http.map((f) => ({
          request: f.request.method === undefined ? { url: f.request.url } : { method: f.request.method, url: f.request.url },
          response: {
            ...(f.response.status !== undefined ? { status: f.response.status } : {}),
            ...(f.response.headers !== undefined ? { headers: f.response.headers } : {}),
            ...(f.response.body !== undefined ? { body: f.response.body } : {}),
          },
        }));
      }
      return test;
    }),
  };
  if (m.inputSchema !== undefined) manifest.inputSchema = m.inputSchema;
  if (m.outputSchema !== undefined) manifest.outputSchema = m.outputSchema;
  // Added only when given: a manifest without them keeps the content hash it always had.
  if (m.retry !== undefined) manifest.retry = { attempts: m.retry.attempts, backoffMs: m.retry.backoffMs };
  if (m.effects !== undefined) manifest.effects = normalEffects(m.effects);
  if (m.record !== undefined) manifest.record = m.record;
  if (m.schedules !== undefined) manifest.schedules = m.schedules.map((x) => ({ cron: x.cron, input: x.input, timezone: x.timezone, catchUp: x.catchUp, overlap: x.overlap }));
  return manifest;
}

/** Hosts lower-cased as patterns compare them, methods upper-case, limits only where given. */
function normalEffects(e: { http: Array<{ host: string; methods?: string[]; secrets?: string[] }>; limits?: { [k: string]: number | undefined } }): Effects {
  const out: Effects = {
    http: e.http.map((h) => {
      const entry: Effects['http'][number] = { host: h.host.toLowerCase() };
      if (h.methods !== undefined) entry.methods = [...new Set(h.methods)];
      if (h.secrets !== undefined) entry.secrets = [...new Set(h.secrets)];
      return entry;
    }),
  };
  if (e.limits) {
    const limits: NonNullable<Effects['limits']> = {};
    for (const k of ['requests', 'inFlight', 'requestBodyBytes', 'responseBodyBytes'] as const) if (e.limits[k] !== undefined) limits[k] = e.limits[k];
    if (Object.keys(limits).length) out.limits = limits;
  }
  return out;
}

function invalid(issues: ManifestIssue[]) {
  const first = issues[0] ?? { path: '', message: 'is invalid' };
  const where = first.path ? `${first.path}: ` : '';
  return fail('INVALID_MANIFEST', `invalid manifest: ${where}${first.message}`, { issues });
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** `.key` for identifier-like keys, `["text.tokenize"]` otherwise, `[0]` for array indexes. */
function formatKey(key: PropertyKey): string {
  if (typeof key === 'number') return `[${key}]`;
  const k = String(key);
  return IDENTIFIER.test(k) ? `.${k}` : `[${JSON.stringify(k)}]`;
}

export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  return path.map(formatKey).join('').replace(/^\./, '');
}

function toIssues(issue: z.core.$ZodIssue): ManifestIssue[] {
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => ({ path: formatPath([...issue.path, key]), message: 'is not a manifest field' }));
  }
  if (issue.code === 'invalid_key') {
    return issue.issues.map((inner) => ({ path: formatPath(issue.path), message: `invalid key: ${inner.message}` }));
  }
  return [{ path: formatPath(issue.path), message: issue.message }];
}
