// The plain data that the store, the sandbox and the graph all speak about one run: how a call tree's
// dependency names resolve (Links) and what its state transaction read and wrote (TxnRecord). They
// live here, in the layer everything may import, so store/ and capabilities/graph.ts need nothing
// from sandbox/ (docs/architecture.md, "Layers"). No behaviour here.

import type { EnqueuedJob, JobKeyRead } from './jobs.ts';

/** For each version hash in a call tree: its dependency names resolved to version hashes, as the
 *  generation the root started on (or the candidate graph of a gate) resolves them. Only the
 *  closure reachable from the root is sent. A dependency missing from the map is unsatisfied. */
export type Links = { [hash: string]: { [depName: string]: string } };

/** Everything a transaction read and wrote. Versions are the store's per-key version numbers
 *  (0 = the key was absent); `nsReads` records list() calls, validated by namespace version. */
export interface TxnRecord {
  reads: Array<[namespace: string, key: string, version: number]>;
  /** The value each entry of `reads` saw, as JSON text (null: absent), in the same order. Only on
   *  live runs of versions whose manifest does not say `record: false`: the kernel's call records
   *  (kernel/records.ts) hold them so a replay can serve the same reads. */
  readValues?: Array<string | null>;
  nsReads: Array<[namespace: string, version: number]>;
  /** JSON text of the new value, or null for a delete. In the order of last write per key. */
  writes: Array<[namespace: string, key: string, value: string | null]>;
  /** Jobs the tree enqueued (stored only if this commits) and what its keyed enqueues saw. */
  jobs?: EnqueuedJob[];
  jobKeys?: JobKeyRead[];
}
