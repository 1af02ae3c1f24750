// The state transaction of one call tree (guarantee 7), pure: an overlay of buffered writes over a
// read source, with one savepoint per nested call. Reads see the tree's own writes; what was read
// from the source is recorded with its version so the kernel can validate the whole tree at commit.
// The worker wires the source to its read-only SQLite connection (live) or to a seed (scratch).

import { exceeded, fail } from '../capabilities/errors.ts';
import { checkTextDepth } from '../capabilities/json-limits.ts';
import { KERNEL_LIMITS } from '../capabilities/types.ts';
import type { Json } from '../capabilities/types.ts';
import type { TxnRecord } from './protocol.ts';
import { JOB_LIMITS, type EnqueuedJob, type JobKeyRead } from '../capabilities/jobs.ts';

/** Where reads come from. Values are JSON text; versions are the store's (0 = absent). */
export interface StateSource {
  readState(namespace: string, key: string): { value: string; version: number } | undefined;
  /** Keys in code point order (SQLite BINARY on UTF-8), after `after`, within `prefix`. */
  listState(namespace: string, opts: { prefix?: string; after?: string; limit: number }): Array<{ key: string; value: string; version: number }>;
  namespaceVersion(namespace: string): number;
  /** The pending job with this dedupe key; absent on scratch state (gates enqueue nothing real). */
  pendingJobId?(name: string, key: string): string | undefined;
}

export const LIST_DEFAULT_LIMIT = 100;
export const LIST_MAX_LIMIT = 1000;
/** A list page stops growing past this many characters of values (it then returns fewer items,
 *  with a cursor): 1000 values of 1 MiB must not be loaded at once. */
export const LIST_MAX_PAGE_BYTES = 8 * 1024 * 1024;
/** Characters of keys and values one transaction may write in all (overwrites included): the
 *  writes are buffered in the worker, which other invocations share. */
export const TXN_MAX_WRITE_BYTES = 64 * 1024 * 1024;

/** Code point order, which is the byte order of UTF-8 and so SQLite's BINARY collation. UTF-16 code
 *  unit order differs only where a surrogate meets a unit in U+E000..U+FFFF. */
export function compareKeys(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800 && y >= 0xd800) {
      x = x <= 0xdfff ? x + 0x2000 : x - 0x800;
      y = y <= 0xdfff ? y + 0x2000 : y - 0x800;
    }
    return x - y;
  }
  return a.length - b.length;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** A state key: a non-empty, well-formed string of at most 512 bytes of UTF-8. */
export function checkKey(key: unknown): string {
  if (typeof key !== 'string' || key.length === 0) {
    throw fail('INVALID_INPUT', 'a state key must be a non-empty string', { what: 'key' });
  }
  if (LONE_SURROGATE.test(key)) throw fail('INVALID_INPUT', 'a state key must be well-formed Unicode', { what: 'key' });
  const size = Buffer.byteLength(key, 'utf8');
  if (size > KERNEL_LIMITS.maxStateKeyBytes) {
    throw exceeded('size', `state key is ${size} bytes, the limit is ${KERNEL_LIMITS.maxStateKeyBytes}`, {
      what: 'key',
      limit: KERNEL_LIMITS.maxStateKeyBytes,
      size,
    });
  }
  return key;
}

/** A state value as JSON text (undefined when the value had no JSON form). */
export function checkValue(json: unknown): string {
  if (typeof json !== 'string') throw fail('INVALID_INPUT', 'a state value must be a JSON value (undefined cannot be stored)', { what: 'value' });
  const size = Buffer.byteLength(json, 'utf8');
  if (size > KERNEL_LIMITS.maxStateValueBytes) {
    throw exceeded('size', `state value is ${size} bytes of JSON, the limit is ${KERNEL_LIMITS.maxStateValueBytes}`, {
      what: 'value',
      limit: KERNEL_LIMITS.maxStateValueBytes,
      size,
    });
  }
  checkTextDepth(json, 'state value', { what: 'value' });
  return json;
}

/** PAYLOAD_TOO_LARGE when a transaction writes more than KERNEL_LIMITS.maxTxnRows keys: checked
 *  as the tree writes (Transaction.put) and again by the kernel before it commits. */
export function checkTxnRows(rows: number): void {
  if (rows > KERNEL_LIMITS.maxTxnRows) {
    throw exceeded('size', `the transaction writes more than ${KERNEL_LIMITS.maxTxnRows} state keys (the limit maxTxnRows); nothing was committed`, {
      what: 'transaction rows',
      limit: KERNEL_LIMITS.maxTxnRows,
      rows,
    });
  }
}

/** One frame of buffered writes: the root call's, or a nested call's savepoint. */
export class Savepoint {
  /** `ns \0 key` -> [ns, key, JSON text or null for a delete], in the order of last write. */
  readonly writes = new Map<string, [string, string, string | null]>();
  /** Jobs enqueued in this frame: they go with its writes (kept on release, dropped on discard). */
  readonly jobs: EnqueuedJob[] = [];
  state: 'open' | 'released' | 'discarded' = 'open';
  constructor(readonly parent: Savepoint | null) {}
}

const slot = (ns: string, key: string) => `${ns}\u0000${key}`;

export interface ListOptions {
  prefix?: string;
  cursor?: string | null;
  limit?: number;
}

export interface ListPage {
  items: Array<{ key: string; value: string }>;
  cursor: string | null;
}

export class Transaction {
  readonly root = new Savepoint(null);
  private readonly reads = new Map<string, [string, string, number]>();
  private readonly nsReads = new Map<string, number>();
  private written = 0;
  /** Every key this tree wrote, in any frame (a discarded nested call's count too). */
  private readonly keys = new Set<string>();
  private readonly jobKeys = new Map<string, JobKeyRead>();
  private enqueued = 0;
  /** The value of each read (JSON text, null: absent), by slot, when the run is recorded. */
  private readonly values: Map<string, string | null> | null;

  /** `recordValues`: keep the value of every read too (TxnRecord.readValues, for call records). */
  constructor(
    private readonly source: StateSource,
    opts: { recordValues?: boolean } = {},
  ) {
    this.values = opts.recordValues ? new Map() : null;
  }

  savepoint(parent: Savepoint): Savepoint {
    return new Savepoint(parent);
  }

  /** A nested call succeeded: its writes become its parent's. */
  release(sp: Savepoint): void {
    if (sp.state !== 'open' || !sp.parent) return;
    sp.state = 'released';
    for (const [k, w] of sp.writes) {
      sp.parent.writes.delete(k);
      sp.parent.writes.set(k, w);
    }
    sp.writes.clear();
    sp.parent.jobs.push(...sp.jobs);
    sp.jobs.length = 0;
  }

  /** A nested call failed: its writes vanish, even if its caller catches the error. */
  discard(sp: Savepoint): void {
    if (sp.state !== 'open') return;
    sp.state = 'discarded';
    sp.writes.clear();
    sp.jobs.length = 0;
  }

  /** Records a job the frame enqueues and returns its id. A keyed job merges into a job with the
   *  same name and key enqueued earlier in this tree, else into the pending one in the store (that
   *  read is validated at commit like a state read), else it is new. */
  enqueue(sp: Savepoint, job: Omit<EnqueuedJob, 'id'>, newId: () => string): string {
    if (++this.enqueued > JOB_LIMITS.maxPerRun) {
      throw exceeded('work', `the invocation enqueued more than ${JOB_LIMITS.maxPerRun} jobs`, { what: 'jobs', limit: JOB_LIMITS.maxPerRun });
    }
    if (job.key !== null) {
      for (let f: Savepoint | null = sp; f; f = f.parent) {
        for (const j of f.jobs) if (j.name === job.name && j.key === job.key) return j.id;
      }
      const k = slot(job.name, job.key);
      let read = this.jobKeys.get(k);
      if (!read) {
        read = [job.name, job.key, this.source.pendingJobId?.(job.name, job.key) ?? null];
        this.jobKeys.set(k, read);
      }
      if (read[2] !== null) return read[2];
    }
    const id = newId();
    if (sp.state === 'open') sp.jobs.push({ ...job, id });
    return id;
  }

  /** JSON text of the value, or undefined when absent. */
  get(sp: Savepoint, ns: string, key: string): string | undefined {
    const k = slot(ns, key);
    for (let f: Savepoint | null = sp; f; f = f.parent) {
      const w = f.writes.get(k);
      if (w) return w[2] ?? undefined;
    }
    const row = this.source.readState(ns, key);
    if (!this.reads.has(k)) {
      this.reads.set(k, [ns, key, row ? row.version : 0]);
      this.values?.set(k, row ? row.value : null);
    }
    return row?.value;
  }

  /** Buffers a write (JSON text) or a delete (null). */
  put(sp: Savepoint, ns: string, key: string, value: string | null): void {
    if (sp.state !== 'open') return;
    this.written += key.length + (value === null ? 0 : value.length);
    if (this.written > TXN_MAX_WRITE_BYTES) {
      throw exceeded('size', `the invocation wrote more than ${TXN_MAX_WRITE_BYTES} characters of state`, {
        what: 'transaction',
        limit: TXN_MAX_WRITE_BYTES,
      });
    }
    const k = slot(ns, key);
    if (!this.keys.has(k)) {
      checkTxnRows(this.keys.size + 1);
      this.keys.add(k);
    }
    sp.writes.delete(k);
    sp.writes.set(k, [ns, key, value]);
  }

  /** One page of keys in order, the source's rows merged with the tree's writes. The cursor is the
   *  last key returned; null when nothing follows. */
  list(sp: Savepoint, ns: string, opts: ListOptions = {}): ListPage {
    const limit = opts.limit ?? LIST_DEFAULT_LIMIT;
    if (!Number.isInteger(limit) || limit < 1 || limit > LIST_MAX_LIMIT) {
      throw fail('INVALID_INPUT', `list limit must be an integer from 1 to ${LIST_MAX_LIMIT}`, { what: 'limit', limit: LIST_MAX_LIMIT });
    }
    const prefix = opts.prefix ?? '';
    const after = opts.cursor ?? undefined;
    // The namespace version is read before the rows: a commit landing in between then makes the
    // recorded version stale (a spurious re-run), never a missed conflict.
    if (!this.nsReads.has(ns)) this.nsReads.set(ns, this.source.namespaceVersion(ns));

    const overlay = new Map<string, string | null>();
    const chain: Savepoint[] = [];
    for (let f: Savepoint | null = sp; f; f = f.parent) chain.push(f);
    for (let i = chain.length - 1; i >= 0; i--) {
      for (const [, [wns, key, value]] of chain[i].writes) {
        if (wns !== ns || !key.startsWith(prefix) || (after !== undefined && compareKeys(key, after) <= 0)) continue;
        overlay.set(key, value);
      }
    }
    const ov = [...overlay].sort((a, b) => compareKeys(a[0], b[0]));

    const want = limit + 1;
    // Rows come in small chunks so that large values are never loaded a thousand at a time.
    const chunk = Math.min(want, 64);
    let bytes = 0;
    let full = false;
    const merged: Array<{ key: string; value: string }> = [];
    let rows: Array<{ key: string; value: string; version: number }> = [];
    let ri = 0;
    let oi = 0;
    let baseAfter = after;
    let baseDone = false;
    while (merged.length < want && !full) {
      if (ri >= rows.length && !baseDone) {
        rows = this.source.listState(ns, { prefix: prefix || undefined, after: baseAfter, limit: chunk });
        ri = 0;
        if (rows.length < chunk) baseDone = true;
        if (rows.length > 0) baseAfter = rows[rows.length - 1].key;
        continue;
      }
      const b = ri < rows.length ? rows[ri] : undefined;
      const o = oi < ov.length ? ov[oi] : undefined;
      if (!b && !o) break;
      const c = b && o ? compareKeys(b.key, o[0]) : b ? -1 : 1;
      if (c < 0 && b) {
        ri++;
        if (overlay.has(b.key)) continue;
        if (merged.length > 0 && bytes + b.value.length > LIST_MAX_PAGE_BYTES) {
          full = true;
          break;
        }
        const k = slot(ns, b.key);
        if (!this.reads.has(k)) {
          this.reads.set(k, [ns, b.key, b.version]);
          this.values?.set(k, b.value);
        }
        merged.push({ key: b.key, value: b.value });
        bytes += b.value.length;
      } else if (o) {
        if (o[1] !== null && merged.length > 0 && bytes + o[1].length > LIST_MAX_PAGE_BYTES) {
          full = true;
          break;
        }
        if (c === 0) ri++;
        oi++;
        if (o[1] !== null) {
          merged.push({ key: o[0], value: o[1] });
          bytes += o[1].length;
        }
      }
    }
    const items = merged.slice(0, limit);
    return { items, cursor: full || merged.length > limit ? items[items.length - 1].key : null };
  }

  /** Everything read and written, the writes of the root frame in the order of last write. */
  record(): TxnRecord {
    return {
      reads: [...this.reads.values()],
      ...(this.values ? { readValues: [...this.reads.keys()].map((k) => this.values!.get(k) ?? null) } : {}),
      nsReads: [...this.nsReads],
      writes: [...this.root.writes.values()],
      ...(this.root.jobs.length ? { jobs: [...this.root.jobs] } : {}),
      ...(this.jobKeys.size ? { jobKeys: [...this.jobKeys.values()] } : {}),
    };
  }
}

/** A read source over a seed (gate tests: throwaway state). Every key has version 0. */
export function seedSource(seed: { [namespace: string]: { [key: string]: Json } }): StateSource {
  const spaces = new Map<string, Array<{ key: string; value: string; version: number }>>();
  for (const [ns, entries] of Object.entries(seed)) {
    const rows = Object.entries(entries ?? {})
      .filter(([, v]) => v !== undefined)
      .map(([key, v]) => ({ key, value: JSON.stringify(v), version: 0 }))
      .sort((a, b) => compareKeys(a.key, b.key));
    spaces.set(ns, rows);
  }
  return {
    readState(ns, key) {
      const row = spaces.get(ns)?.find((r) => r.key === key);
      return row ? { value: row.value, version: 0 } : undefined;
    },
    listState(ns, opts) {
      const out: Array<{ key: string; value: string; version: number }> = [];
      for (const row of spaces.get(ns) ?? []) {
        if (out.length >= opts.limit) break;
        if (opts.prefix && !row.key.startsWith(opts.prefix)) continue;
        if (opts.after !== undefined && compareKeys(row.key, opts.after) <= 0) continue;
        out.push(row);
      }
      return out;
    },
    namespaceVersion: () => 0,
  };
}

/** A source with nothing in it (no database configured). */
export const EMPTY_SOURCE: StateSource = {
  readState: () => undefined,
  listState: () => [],
  namespaceVersion: () => 0,
};

/** A read source over one recorded call (replay state mode): the record's reads and nothing else.
 *  A read the record cannot answer — a get of a key it lacks, any list (a record cannot say which
 *  keys existed) — is answered as absent/empty and listed in `misses`, which makes the run's result
 *  `unreplayable`. Every key has version 0; writes never leave the transaction. */
export interface ReplaySource extends StateSource {
  readonly misses: string[];
}

export function replaySource(reads: ReadonlyArray<readonly [namespace: string, key: string, value: string | null]>): ReplaySource {
  const known = new Map<string, string | null>();
  for (const [ns, key, value] of reads) known.set(slot(ns, key), value);
  const misses: string[] = [];
  const label = (ns: string) => (ns.startsWith('shared:') ? `shared namespace ${ns.slice(7)}` : ns);
  return {
    misses,
    readState(ns, key) {
      const k = slot(ns, key);
      if (!known.has(k)) {
        misses.push(`state.get of ${label(ns)} key ${JSON.stringify(key.length > 64 ? `${key.slice(0, 64)}...` : key)}, which the record did not read`);
        return undefined;
      }
      const value = known.get(k);
      return value === null || value === undefined ? undefined : { value, version: 0 };
    },
    listState(ns) {
      misses.push(`state.list of ${label(ns)} (a record holds the keys a call read, not which keys existed)`);
      return [];
    },
    namespaceVersion: () => 0,
  };
}
