// Compiling JSON Schemas where it cannot stall anything: ajv's code generation is superlinear in
// some shapes (an object with 1,500 properties takes about a second, a large definition inlined at
// every $ref minutes), so it runs on a worker thread of the process that needs the code (the kernel
// at registration, a sandbox worker before a version's first call), one schema at a time, and a
// compile that outlasts SCHEMA_COMPILE_TIMEOUT_MS terminates the thread and refuses the schema.
// What comes back is ajv's standalone code (capabilities/schema.ts says what it requires), run by
// the caller: inline (loadStandalone) or in a validator isolate (schema-isolates.ts).

import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { fail } from '../capabilities/errors.ts';
import { AJV_OPTIONS, checkSchemaCost, dialectOf } from '../capabilities/schema.ts';
import type { SchemaCost } from '../capabilities/schema.ts';
import type { JsonObject, Manifest } from '../capabilities/types.ts';

/** How long compiling one schema may take before it is refused as too costly. */
export const SCHEMA_COMPILE_TIMEOUT_MS = 2000;

export interface CompiledCode {
  code: string;
  cost: SchemaCost;
}

const require = createRequire(import.meta.url);
const MODULES = {
  'draft-07': require.resolve('ajv'),
  '2019-09': require.resolve('ajv/dist/2019.js'),
  '2020-12': require.resolve('ajv/dist/2020.js'),
  standalone: require.resolve('ajv/dist/standalone/index.js'),
};

// CommonJS, evaluated as the thread's main script: only ajv, no module of ours (so no loader).
const THREAD_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { modules, options } = workerData;
const standalone = require(modules.standalone).default;
const instances = {};
parentPort.on('message', ({ id, text, dialect }) => {
  let reply;
  try {
    const ajv = (instances[dialect] ??= new (require(modules[dialect]).default)(options));
    const schema = JSON.parse(text);
    try {
      reply = { id, ok: true, code: standalone(ajv, ajv.compile(schema)) };
    } finally {
      ajv.removeSchema(schema);
    }
  } catch (e) {
    reply = { id, ok: false, message: e instanceof Error ? e.message : String(e) };
  }
  parentPort.postMessage(reply);
});`;

type Reply = { id: number; ok: true; code: string } | { id: number; ok: false; message: string };

interface Job {
  id: number;
  text: string;
  dialect: string;
  resolve: (r: Reply | 'timeout') => void;
}

class CompileThread {
  private worker: Worker | null = null;
  private readonly queue: Job[] = [];
  private current: { job: Job; timer: NodeJS.Timeout } | null = null;
  private seq = 0;

  run(text: string, dialect: string): Promise<Reply | 'timeout'> {
    return new Promise((resolve) => {
      this.queue.push({ id: ++this.seq, text, dialect, resolve });
      this.next();
    });
  }

  private start(): Worker {
    // execArgv: [] — the thread needs no loader (plain CommonJS), which makes it start faster.
    const w = new Worker(THREAD_SOURCE, { eval: true, execArgv: [], workerData: { modules: MODULES, options: AJV_OPTIONS } });
    w.unref();
    w.on('message', (r: Reply) => {
      const cur = this.current;
      if (!cur || cur.job.id !== r.id) return;
      clearTimeout(cur.timer);
      this.current = null;
      cur.job.resolve(r);
      this.next();
    });
    const lost = (why: string) => {
      if (this.worker !== w) return;
      this.worker = null;
      const cur = this.current;
      this.current = null;
      if (cur) {
        clearTimeout(cur.timer);
        cur.job.resolve({ id: cur.job.id, ok: false, message: `the schema compiler stopped: ${why}` });
      }
      this.next();
    };
    w.on('error', (e) => lost(e.message));
    w.on('exit', (code) => lost(`exit code ${code}`));
    return w;
  }

  private next(): void {
    if (this.current) return;
    const job = this.queue.shift();
    if (!job) return;
    const w = (this.worker ??= this.start());
    const timer = setTimeout(() => {
      // Whatever ajv is doing, it stops: terminate the thread, start another for the next job.
      this.current = null;
      this.worker = null;
      void w.terminate();
      job.resolve('timeout');
      this.next();
    }, SCHEMA_COMPILE_TIMEOUT_MS);
    timer.unref();
    this.current = { job, timer };
    w.postMessage({ id: job.id, text: job.text, dialect: job.dialect });
  }
}

let thread: CompileThread | null = null;

/** Starts the thread and has it load ajv now (a few hundred ms), so the first compile does not
 *  wait for that. */
export function warmSchemaCompiler(): void {
  thread ??= new CompileThread();
  void thread.run('{}', 'draft-07');
}

/** Compiles `schema` off this thread to ajv standalone code. Throws INVALID_MANIFEST when the
 *  schema exceeds SCHEMA_LIMITS, ajv refuses it, or compiling it takes too long. */
export async function compileSchemaCode(schema: JsonObject): Promise<CompiledCode> {
  const { text, cost } = checkSchemaCost(schema);
  thread ??= new CompileThread();
  const r = await thread.run(text, dialectOf(schema));
  if (r === 'timeout') {
    const message = `the JSON Schema is too costly: compiling it took longer than ${SCHEMA_COMPILE_TIMEOUT_MS} ms`;
    throw fail('INVALID_MANIFEST', message, { message, limit: 'schemaCompileMs', max: SCHEMA_COMPILE_TIMEOUT_MS });
  }
  if (!r.ok) throw fail('INVALID_MANIFEST', `invalid JSON Schema: ${r.message}`, { message: r.message });
  return { code: r.code, cost };
}

/** Compiles a manifest's schemas (registration): INVALID_MANIFEST names the field and the problem,
 *  as parseManifest does for the checks it makes itself. */
export async function checkManifestSchemas(manifest: Manifest): Promise<void> {
  for (const field of ['inputSchema', 'outputSchema'] as const) {
    const schema = manifest[field];
    if (!schema) continue;
    try {
      await compileSchemaCode(schema);
    } catch (e) {
      const err = e as { message: string; data?: { [k: string]: unknown } };
      const message = typeof err.data?.message === 'string' ? err.data.message : err.message;
      throw fail('INVALID_MANIFEST', `invalid manifest: ${field}: ${message}`, { ...err.data, issues: [{ path: field, message }] });
    }
  }
}
