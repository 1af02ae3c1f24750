// Call records' kernel side (docs/evaluation.md "Records"): the CallRecords of root invocations
// (made by call-trace.ts) are buffered here and appended in one transaction per batch (as the
// effect journal, effects-api.ts), off the invocation's path; `list` reads them back newest first
// (replay, kernel/replay.ts), `listFor` serves records/list: operators read every capability's,
// agents those of capabilities they own, clients none (records hold inputs). Storage and
// retention (RECORDS_PER_VERSION per version): store/records.ts.

import { fail } from '../capabilities/errors.ts';
import type { CallRecord } from '../capabilities/evaluation.ts';
import type { Graph } from '../capabilities/graph.ts';
import { assertName } from '../capabilities/names.ts';
import { clampLimit } from '../capabilities/paging.ts';
import type { ParamsOf, ResultOf } from '../capabilities/protocol/methods.ts';
import type { Principal } from '../capabilities/types.ts';
import { recordBody, type RecordTable, type StoredRecord } from '../store/records.ts';

/** Records appended at once; a fuller buffer is written without waiting for the timer. */
const FLUSH_AT = 256;
/** The longest a record waits for its batch: one transaction per this many ms at low rates, not
 *  one per call (reads flush first, so nothing waits for it to be listed). */
const FLUSH_MS = 20;
/** A record whose JSON is longer is not kept (counted in `dropped`): 1,000 of them per version
 *  must stay a bounded amount of disk. */
export const RECORD_MAX_CHARS = 1024 * 1024;

export type RecordsListParams = ParamsOf<'records/list'>;
export type RecordsListResult = ResultOf<'records/list'>;

export class Records {
  private buffer: CallRecord[] = [];
  private scheduled = false;
  private closed = false;
  /** Records not kept because they were larger than RECORD_MAX_CHARS. */
  dropped = 0;

  constructor(
    private readonly table: RecordTable,
    private readonly deps: { graph: () => Graph; ownerIdOf: (capability: string) => string | undefined },
    private readonly onError: (e: unknown) => void = (e) => process.stderr.write(`substrate: call records could not be written: ${String(e)}\n`),
  ) {}

  /** Buffers one record; written within FLUSH_MS with the others of that time. */
  add(r: CallRecord): void {
    if (this.closed) return;
    this.buffer.push(r);
    if (this.buffer.length >= FLUSH_AT) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      setTimeout(() => this.flush(), FLUSH_MS).unref();
    }
  }

  /** Writes what is buffered now. */
  flush(): void {
    this.scheduled = false;
    if (this.buffer.length === 0) return;
    const batch = this.buffer;
    this.buffer = [];
    const rows: Array<{ record: CallRecord; body: string }> = [];
    for (const record of batch) {
      let body: string;
      try {
        body = recordBody(record);
      } catch {
        // An input or output too deep for JSON.stringify (the call itself failed on it, typed):
        // not recordable, and never allowed to throw out of this timer into the kernel process.
        this.dropped++;
        continue;
      }
      if (body.length > RECORD_MAX_CHARS) this.dropped++;
      else rows.push({ record, body });
    }
    try {
      this.table.append(rows);
    } catch (e) {
      // Records are evidence, not the call: a failed write must not fail invocations.
      this.onError(e);
    }
  }

  close(): void {
    this.flush();
    this.closed = true;
  }

  /** The newest records of one version (by hash, or name and version), or of every version of a
   *  name, newest first. */
  list(ref: string | { name: string; version?: string }, limit: number): CallRecord[] {
    this.flush();
    return this.stored(ref, limit).map(strip);
  }

  /** records/list: operators any capability's, agents their own capabilities'. */
  listFor(actor: Principal, p: RecordsListParams): RecordsListResult {
    assertName(p.name);
    if (actor.role !== 'operator') {
      if (actor.role !== 'agent') throw fail('FORBIDDEN', `role '${actor.role}' may not read call records (they hold inputs)`, { role: actor.role, method: 'records/list' });
      const owner = this.deps.ownerIdOf(p.name);
      if (owner !== undefined && owner !== actor.id) throw fail('FORBIDDEN', `only an operator or the owner of ${p.name} may read its call records`, { name: p.name });
    }
    const limit = clampLimit(p.limit, 20, 1000);
    const before = p.cursor !== undefined ? Number(p.cursor) : undefined;
    if (before !== undefined && !Number.isSafeInteger(before)) throw fail('NOT_FOUND', `bad records cursor '${p.cursor}'`, { cursor: p.cursor });
    this.flush();
    const rows = this.stored({ name: p.name, ...(p.version !== undefined ? { version: p.version } : {}) }, limit + 1, before);
    const page = rows.slice(0, limit);
    return {
      items: page.map((r) => ({ ...strip(r), at: new Date(r.at).toISOString() })),
      nextCursor: rows.length > limit ? String(page[page.length - 1].seq) : null,
    };
  }

  private stored(ref: string | { name: string; version?: string }, limit: number, before?: number): StoredRecord[] {
    if (typeof ref === 'string') return this.table.list({ hash: ref, limit, before });
    if (ref.version === undefined) return this.table.list({ name: ref.name, limit, before });
    const v = this.deps.graph().find(ref.name, ref.version);
    if (!v) throw fail('NOT_FOUND', `no version ${ref.version} of '${ref.name}'`, { name: ref.name, version: ref.version });
    return this.table.list({ hash: v.hash, limit, before });
  }
}

function strip({ seq: _seq, ...r }: StoredRecord): CallRecord {
  return r;
}
