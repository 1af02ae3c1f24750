// What the caller of one call sees when the sandbox worker that held it dies. A worker serves many
// tenants at once, and its stderr carries host paths (node_modules, the data directory), V8's heap
// reports and whatever the process printed for any call: none of it goes to a caller. A caller gets
// its own invocation id, the signal or exit code, and a reason from a fixed list; the one whose
// isolate V8 lost control of (sandbox/isolate-host.ts names it on stderr under the pool's nonce)
// gets MEMORY_LIMIT with its own limit. The whole stderr tail goes to the operator only (onCrash).

import { exceeded, fail, SubstrateError } from '../capabilities/errors.ts';

/** Why a worker died, in words that say nothing about any call. */
export type CrashReason = 'killed by the pool: unresponsive' | 'killed by the pool: malformed message' | 'killed by the pool' | 'out of memory' | 'killed by a signal' | 'exited';

/** The calls of the isolate that took the worker down, as isolate-host.ts reports them. */
export interface Culprit {
  invocationIds: string[];
  name: string;
  version: string;
  memoryMb: number;
}

export function crashReason(killedFor: string | null, stderrTail: string, signal: string | null): CrashReason {
  if (killedFor !== null) {
    if (killedFor.startsWith('unresponsive')) return 'killed by the pool: unresponsive';
    if (killedFor.startsWith('malformed message')) return 'killed by the pool: malformed message';
    return 'killed by the pool';
  }
  if (/catastrophic isolate error|out of memory|heap limit|allocation failed/i.test(stderrTail)) return 'out of memory';
  return signal ? 'killed by a signal' : 'exited';
}

/** The culprit line written under `nonce`, if the tail holds one. */
export function findCulprit(stderrTail: string, nonce: string): Culprit | null {
  if (!nonce) return null;
  const at = stderrTail.lastIndexOf(`\n${nonce} `);
  if (at < 0) return null;
  const end = stderrTail.indexOf('\n', at + 1);
  try {
    const c = JSON.parse(stderrTail.slice(at + nonce.length + 2, end < 0 ? undefined : end)) as Culprit;
    if (!Array.isArray(c.invocationIds) || typeof c.name !== 'string' || typeof c.version !== 'string' || typeof c.memoryMb !== 'number') return null;
    return { invocationIds: c.invocationIds.filter((x): x is string => typeof x === 'string'), name: c.name, version: c.version, memoryMb: c.memoryMb };
  } catch {
    return null;
  }
}

/** The error of one call the dead worker held. */
export function crashError(o: {
  pid: number;
  signal: string | null;
  exitCode: number | null;
  reason: CrashReason;
  invocationId?: string;
  culprit: Culprit | null;
  poolClosed: boolean;
}): SubstrateError {
  const base = { pid: o.pid, signal: o.signal, exitCode: o.exitCode, ...(o.invocationId !== undefined ? { invocationId: o.invocationId } : {}) };
  if (o.culprit && o.invocationId !== undefined && o.culprit.invocationIds.includes(o.invocationId)) {
    const { name, version, memoryMb } = o.culprit;
    return exceeded('memory', `${name}@${version} exceeded its memory limit of ${memoryMb} MB (its sandbox worker was replaced)`, {
      memoryMb,
      name,
      version,
      what: 'heap',
      ...base,
    });
  }
  const why = o.poolClosed ? 'the sandbox pool was closed' : `sandbox worker ${o.pid} exited (${o.signal ?? `code ${o.exitCode}`})`;
  return fail('SANDBOX_CRASHED', why, { ...base, reason: o.reason });
}
