// The effect journal's kernel side: the request performer records every request of a call tree
// here (record: buffered, appended in one transaction per batch), effects/list reads it (operators
// all of it, agents the records of the capabilities they own), and a re-run after a state conflict
// reads back what its tree was served (forInvocation). Storage and retention: store/effects.ts.

import { fail } from '../capabilities/errors.ts';
import type { EffectRecord } from '../capabilities/effects.ts';
import { assertName } from '../capabilities/names.ts';
import { clampLimit } from '../capabilities/paging.ts';
import type { Principal } from '../capabilities/types.ts';
import type { EffectTable, StoredEffect } from '../store/effects.ts';
import type { EffectInfo, EffectsListParams, EffectsListResult } from './api.ts';

/** Records appended at once; a fuller buffer is written without waiting for the next turn. */
const FLUSH_AT = 256;

function view(r: StoredEffect): EffectInfo {
  return {
    id: r.id,
    at: new Date(r.at).toISOString(),
    invocationId: r.invocationId,
    name: r.name,
    version: r.version,
    hash: r.hash,
    principal: r.principal,
    principalName: r.principalName,
    method: r.method,
    url: r.url,
    finalUrl: r.finalUrl,
    status: r.status,
    error: r.error,
    requestBytes: r.requestBytes,
    responseBytes: r.responseBytes,
    durationMs: r.durationMs,
    replayed: r.replayed,
  };
}

export class EffectsApi {
  private buffer: EffectRecord[] = [];
  private scheduled = false;
  private closed = false;

  constructor(
    private readonly table: EffectTable,
    private readonly ownerIdOf: (capability: string) => string | undefined,
    private readonly onError: (e: unknown) => void = (e) => process.stderr.write(`substrate: the effect journal could not be written: ${String(e)}\n`),
  ) {}

  /** Records one request (as the kernel made it or served it from the journal). Written on the next
   *  turn of the event loop with the others of that turn; reads (list, forInvocation) flush first. */
  record(r: EffectRecord): void {
    if (this.closed) return;
    this.buffer.push(r);
    if (this.buffer.length >= FLUSH_AT) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Writes what is buffered now. */
  flush(): void {
    this.scheduled = false;
    if (this.buffer.length === 0) return;
    const batch = this.buffer;
    this.buffer = [];
    try {
      this.table.append(batch);
    } catch (e) {
      // The audit trail must not fail the calls that made the requests: say so, and go on.
      this.onError(e);
    }
  }

  /** Flushes and stops recording (the kernel is closing its store). */
  close(): void {
    this.flush();
    this.closed = true;
  }

  /** Every record of one call tree, oldest first, with the responses still kept. */
  forInvocation(invocationId: string): EffectRecord[] {
    this.flush();
    return this.table.forInvocation(invocationId).map(({ seq: _seq, ...r }) => r);
  }

  list(actor: Principal, p: EffectsListParams = {}): EffectsListResult {
    if (p.name !== undefined) assertName(p.name);
    let principal: string | undefined;
    if (actor.role !== 'operator') {
      if (actor.role !== 'agent') throw fail('FORBIDDEN', `role '${actor.role}' may not read the effect journal`, { role: actor.role, method: 'effects/list' });
      if (p.name !== undefined && this.ownerIdOf(p.name) !== actor.id) {
        throw fail('FORBIDDEN', `only an operator or the owner of ${p.name} may read its effect journal`, { name: p.name });
      }
      principal = actor.id;
    }
    const limit = clampLimit(p.limit, 100, 1000);
    const before = p.cursor !== undefined ? Number(p.cursor) : undefined;
    if (before !== undefined && !Number.isSafeInteger(before)) throw fail('NOT_FOUND', `bad effects cursor '${p.cursor}'`, { cursor: p.cursor });
    this.flush();
    const rows = this.table.list({ name: p.name, invocationId: p.invocationId, principal, before, limit: limit + 1 });
    const page = rows.slice(0, limit);
    return { items: page.map(view), nextCursor: rows.length > limit ? String(page[page.length - 1].seq) : null };
  }
}
