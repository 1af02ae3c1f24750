// Which version a rollback without `to` returns to: the one that was current before the current
// one became current, read from the journal's change summaries newest first. Pure: the kernel
// hands it the journal a page at a time.

/** The fields of a journal change summary this rule reads (kernel/api.ts ChangeSummary). */
export interface JournalChange {
  op: 'register' | 'activate' | 'remove' | 'rollout';
  name: string;
  version: string | null;
  previous: string | null;
  activated: boolean;
}

/** `pages` yields each journal entry's changes, newest entry first; reading stops at the answer.
 *  `current` null means the name was removed: the answer is what was current at the removal. */
export function previousVersion(pages: Iterable<readonly JournalChange[]>, name: string, current: string | null): string | undefined {
  for (const changes of pages) {
    for (const c of changes) {
      if (c.name !== name) continue;
      if (current === null && c.op === 'remove' && c.previous) return c.previous;
      if (c.activated && c.version === current && c.previous && c.previous !== current) return c.previous;
    }
  }
  return undefined;
}
