// The kernel's answers to what the request performer asks about each request (EgressPolicy of
// egress.ts): the calling version's manifest, its owner and that owner's CURRENT http grants (read
// per request, so a revoke bites the next one), and a secret by name (decrypted per request,
// never cached here). Also where the effect journal's records go.

import type { Generation } from './generation.ts';
import type { GrantRules } from './grants.ts';
import type { Secrets } from './secrets.ts';
import type { EffectsApi } from './effects-api.ts';
import { fail } from '../capabilities/errors.ts';
import { requestDeadline } from '../capabilities/effects.ts';
import type { Links } from '../capabilities/run-types.ts';
import type { RunHooks } from '../sandbox/run-hooks.ts';
import { Egress, type EffectPerformer, type Lookup } from './egress.ts';

export interface EgressWiring {
  gen: Generation;
  grants: GrantRules;
  secrets: Secrets;
  effects: EffectsApi;
  /** Host name resolution (default: the system's, dns.lookup with all addresses). */
  lookup?: Lookup;
  /** Trusted CAs instead of Node's defaults. */
  ca?: string | Buffer | Array<string | Buffer>;
}

export function kernelEgress(w: EgressWiring): Egress {
  const nameOf = (hash: string) => w.gen.payload(hash)?.name;
  return new Egress({
    policy: {
      manifestOf: (hash) => w.gen.payload(hash)?.manifest ?? null,
      ownerOf: (hash) => {
        const name = nameOf(hash);
        const owner = name === undefined ? undefined : w.grants.ownerOf(name);
        return owner ? { id: owner.id, name: owner.name } : null;
      },
      grantsOf: (hash) => w.grants.httpGrantsOf(hash),
      secret: (name) => w.secrets.resolve(name),
    },
    ...(w.lookup ? { lookup: w.lookup } : {}),
    ...(w.ca ? { ca: w.ca } : {}),
    onRecord: (r) => w.effects.record(r),
  });
}

/** The egress hook of one run: the worker says which version asks and by when, and is believed
 *  only within what the kernel sent it — a version of the run's own tree (its links), and ending
 *  before the run's deadline (requestDeadline) — so a worker gone wrong cannot borrow another capability's
 *  grants or hold a request open past its call. */
export function treeEgress(links: Links, callDeadline: number, timeoutMs: number, performer: () => EffectPerformer): RunHooks {
  const deadline = requestDeadline(callDeadline, timeoutMs);
  return {
    egress(caller, request) {
      if (!Object.hasOwn(links, caller.hash)) {
        const url = String(request.url);
        return Promise.resolve({ ok: false, error: fail('EFFECT_FORBIDDEN', `fetch of ${url}: the caller is not a version of this call tree`, { url, reason: 'unknown caller' }).toWire() });
      }
      return performer().perform(caller.deadline > deadline ? { ...caller, deadline } : caller, request);
    },
  };
}
