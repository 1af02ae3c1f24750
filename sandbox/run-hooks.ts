// What the kernel lends one run besides its RunSpec: the hook that answers the run's `fetch`
// requests (sandbox/fetch-answer.ts delivers them). Types only, so that the worker handle that
// keeps a run's hooks and the code that uses them need not import each other.

import type { EgressCaller, EgressRequest, EgressResult } from '../capabilities/effects.ts';

export interface RunHooks {
  /** Makes one request of the run's call tree (kernel/egress.ts): the sandbox has checked that the
   *  calling version declares effects.http, the URL's scheme and the tree's limits; the kernel
   *  checks the destination and everything else. Absent: every fetch of the run is refused with
   *  EFFECT_FORBIDDEN. */
  egress?(caller: EgressCaller, request: EgressRequest): Promise<EgressResult>;
}
