// Who may read which log lines: operators all of them, anyone else (agents; clients may not read
// logs at all, see rpc.ts) only the lines of capabilities they own. One rule for `logs/recent` and
// for `log` events fanned out to subscribers (server.ts), so the two can never disagree.
//
// A line belongs to the capability that wrote it (`name`), also inside another's call tree or gate
// test. A capability the store has not committed yet (a changeset's new name, during its gate
// tests) has no owner yet: its lines are the operators' only.

import { fail } from '../capabilities/errors.ts';
import type { Principal } from '../capabilities/types.ts';
import type { GrantRules } from './grants.ts';

export class LogAccess {
  constructor(private readonly owners: Pick<GrantRules, 'ownerOf'>) {}

  /** Whether `principal` may read the log lines of `capability`. */
  visible(principal: Principal, capability: string): boolean {
    return principal.role === 'operator' || this.owners.ownerOf(capability)?.id === principal.id;
  }

  /** The filter for a principal's reads, or undefined when it sees everything. */
  filterFor(principal: Principal): ((capability: string) => boolean) | undefined {
    return principal.role === 'operator' ? undefined : (capability) => this.visible(principal, capability);
  }

  /** Asking for the logs of one capability owned by someone else is refused by name, rather than
   *  answered with nothing (which would read as "it logged nothing"). */
  checkNamed(principal: Principal, capability: string | undefined): void {
    if (capability === undefined || principal.role === 'operator') return;
    const owner = this.owners.ownerOf(capability);
    if (owner && owner.id !== principal.id) {
      throw fail('FORBIDDEN', `the logs of ${capability} are its owner's (${owner.name}) and the operators' only`, { name: capability, owner: owner.name });
    }
  }
}
