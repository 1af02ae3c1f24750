// Grants (guarantee 8; the contract's "Grants"): of shared namespaces (`namespace`: who owns one,
// who may grant or revoke access to it, whether a manifest may declare it, what each capability of
// a call tree holds at the instant the call starts) and of egress destinations (`http`: granted and
// revoked by operators only, checked against a manifest's effects.http at registration, looked up
// by the request performer for every request: httpGrantsOf). This process decides. The sandbox worker is told the answer with the run (RunSpec.shared) and enforces it on
// every ctx.state operation; the transaction it sends back is checked against the same answer
// before anything commits, so a worker that failed to enforce it cannot write past it.
//
// Whose grants count: those of the capability's owner (the principal that registered its name
// first), not of whoever calls it; a principal is a token id or `role:<role>`. Operators hold every
// grant implicitly, and a namespace's owner holds it rw.

import { LRUCache } from 'lru-cache';
import { nanoid } from 'nanoid';
import { fail, RpcProtocolError, RPC_CODES } from '../capabilities/errors.ts';
import { nameProblem } from '../capabilities/names.ts';
import { destinationWithin, formatDestination, HTTP_METHODS, methodsWithin, parseDestination, type Destination } from '../capabilities/destinations.ts';
import { LOCAL_OPERATOR, type Access, type Manifest, type Principal, type Role } from '../capabilities/types.ts';
import type { StoreApi, GrantRow } from '../store/types.ts';
import type { Links, SharedAccess, TxnRecord } from '../sandbox/protocol.ts';
import type { HttpGrant } from './egress-check.ts';
import { ROLE_PRINCIPAL_PREFIX, type GrantAddParams, type GrantInfo, type GrantListParams, type GrantListResult, type GrantRevokeResult } from './api.ts';

const ROLES: readonly Role[] = ['operator', 'agent', 'client'];

/** The owner of a capability, with the role its grants are also looked up by. */
export interface Owner {
  id: string;
  name: string;
  /** Undefined when the owner is no token this store knows. */
  role: Role | undefined;
}

/** What one call tree may touch: sent to the worker, and checked again at commit. */
export interface RunAccess {
  shared: SharedAccess;
  /** Stored namespace names (own names, and `shared:NAME`) the tree may read / write. */
  read: Set<string>;
  write: Set<string>;
}

interface VersionView {
  name: string;
  manifest: Manifest;
}

/** One active http grant as the request performer matches it (egress-check.ts), parsed once. */
export interface HeldHttpGrant extends HttpGrant {
  destination: Destination;
}

/** Capabilities whose owner is kept in memory. */
const MAX_CACHED_OWNERS = 10_000;

export class GrantRules {
  /** Grows at every add and revoke: access computed before it is stale. */
  private epoch = 0;
  private readonly runCache = new WeakMap<Links, { epoch: number; access: RunAccess }>();
  /** A capability's owner never changes once its row exists. */
  private readonly owners = new LRUCache<string, Owner>({ max: MAX_CACHED_OWNERS });
  /** The http grants of each owner (id), valid for one epoch. */
  private httpCache = new Map<string, HeldHttpGrant[]>();
  private httpCacheEpoch = -1;

  constructor(
    private readonly store: StoreApi,
    private readonly versionOf: (hash: string) => VersionView | undefined,
  ) {}

  // ------------------------------------------------------------------ who holds what

  /** The owner of a capability, or undefined for a name the store has not committed yet. */
  ownerOf(capability: string): Owner | undefined {
    const hit = this.owners.get(capability);
    if (hit) return hit;
    const row = this.store.capability(capability);
    if (!row) return undefined;
    const role: Role | undefined = row.ownerId === LOCAL_OPERATOR.id ? LOCAL_OPERATOR.role : this.store.token(row.ownerId)?.role;
    const owner: Owner = { id: row.ownerId, name: row.ownerName, role };
    this.owners.set(capability, owner);
    return owner;
  }

  /** The access `owner` holds on a shared namespace: rw for operators and the namespace's owner,
   *  else the best of its active grants (by token id or by role), else null. */
  held(owner: Owner, namespace: string, nsOwnerId = this.store.namespaceOwner(namespace)?.ownerId): Access | null {
    if (owner.role === 'operator' || nsOwnerId === owner.id) return 'rw';
    let best: Access | null = null;
    for (const g of this.store.grants({ kind: 'namespace', target: namespace })) {
      if (g.principal !== owner.id && (owner.role === undefined || g.principal !== ROLE_PRINCIPAL_PREFIX + owner.role)) continue;
      if (g.mode === 'rw') return 'rw';
      best = 'r';
    }
    return best;
  }

  /** At registration: every shared namespace the manifest declares must be unowned (the owner of
   *  this capability then becomes its owner, see store/grants.ts `claim`), owned by the
   *  capability's owner, or granted to it in the declared mode. `claims` carries the namespaces
   *  earlier changes of the same changeset will claim. Throws STATE_FORBIDDEN naming the grant. */
  checkDeclaration(owner: Owner, manifest: Manifest, claims: Map<string, Owner>): void {
    for (const [ns, want] of Object.entries(manifest.state.shared)) {
      const stored = this.store.namespaceOwner(ns);
      const nsOwner: Owner | undefined = stored ? { id: stored.ownerId, name: stored.ownerName, role: undefined } : claims.get(ns);
      if (!nsOwner) {
        claims.set(ns, owner);
        continue;
      }
      if (owner.role === 'operator') continue;
      const held = this.held(owner, ns, nsOwner.id);
      if (held === 'rw' || held === want) continue;
      const grant = { principal: owner.id, kind: 'namespace', target: ns, mode: want } as const;
      throw fail(
        'STATE_FORBIDDEN',
        `${manifest.name} declares shared namespace ${ns} (${want}), which ${nsOwner.name} owns; ${owner.name} holds ${held ? 'only an r grant' : 'no grant'} for it. ` +
          `Its owner or an operator can grant it: substrate grant add ${owner.id} namespace ${ns}${want === 'rw' ? ' --mode rw' : ''}`,
        { name: manifest.name, namespace: ns, mode: want, owner: nsOwner.name, principal: owner.id, held, missing: grant },
      );
    }
    this.checkEffects(owner, manifest);
  }

  /** At registration: every `effects.http` entry must lie within an http grant its owner holds
   *  (destination and methods; operators hold all). Throws EFFECT_FORBIDDEN naming the grant. */
  checkEffects(owner: Owner, manifest: Manifest): void {
    const entries = manifest.effects?.http ?? [];
    if (entries.length === 0 || owner.role === 'operator') return;
    const held = this.httpGrantsOfOwner(owner);
    for (const e of entries) {
      const d = parseDestination(e.host);
      // The manifest parser accepted it; a pattern it cannot read again is within nothing.
      const covered = typeof d !== 'string' && held.some((g) => destinationWithin(d, g.destination) && methodsWithin(e.methods, g.methods));
      if (covered) continue;
      const target = typeof d === 'string' ? e.host : formatDestination(d);
      const missing = { kind: 'http' as const, target, ...(e.methods ? { methods: e.methods } : {}) };
      const command = `substrate grant add ${owner.id} http ${target}${e.methods ? ` --methods ${e.methods.join(',')}` : ''}`;
      const partial = typeof d !== 'string' && held.some((g) => destinationWithin(d, g.destination));
      throw fail(
        'EFFECT_FORBIDDEN',
        `${manifest.name} declares http destination ${e.host}${e.methods ? ` (${e.methods.join(', ')})` : ' (all methods)'}, but ${partial ? `the grants ${owner.name} holds for it allow fewer methods` : `${owner.name} holds no grant for it`}. ` +
          `An operator can grant it: ${command}`,
        { name: manifest.name, host: e.host, principal: owner.id, missing, command },
      );
    }
  }

  /** For the request performer, per request: the http grants of a capability's owner now, by the
   *  version hash (or name) of the capability whose code calls fetch, or by its owner. 'all' for an
   *  operator's capability; [] for one the store does not know. Revocations count at once. */
  httpGrantsOf(of: string | Owner): 'all' | HeldHttpGrant[] {
    let owner: Owner | undefined;
    if (typeof of === 'string') {
      const name = of.startsWith('sha256:') ? this.versionOf(of)?.name : of;
      owner = name === undefined ? undefined : this.ownerOf(name);
    } else owner = of;
    if (!owner) return [];
    if (owner.role === 'operator') return 'all';
    return this.httpGrantsOfOwner(owner);
  }

  private httpGrantsOfOwner(owner: Owner): HeldHttpGrant[] {
    if (this.httpCacheEpoch !== this.epoch) {
      this.httpCache = new Map();
      this.httpCacheEpoch = this.epoch;
    }
    const hit = this.httpCache.get(owner.id);
    if (hit) return hit;
    const out: HeldHttpGrant[] = [];
    for (const g of this.store.grants()) {
      if (g.kind !== 'http') continue;
      if (g.principal !== owner.id && (owner.role === undefined || g.principal !== ROLE_PRINCIPAL_PREFIX + owner.role)) continue;
      const d = parseDestination(g.target);
      if (typeof d === 'string') continue;
      out.push({ id: g.id, target: g.target, destination: d, ...(g.methods ? { methods: g.methods } : {}) });
    }
    this.httpCache.set(owner.id, out);
    return out;
  }

  /** What every version of a call tree (the hashes of `links`) may open now. `newOwner` owns the
   *  capabilities the store does not know yet (a changeset's own, during its migrations). */
  runAccess(links: Links, newOwner?: Principal): RunAccess {
    const cacheable = newOwner === undefined;
    if (cacheable) {
      const hit = this.runCache.get(links);
      if (hit && hit.epoch === this.epoch) return hit.access;
    }
    const access: RunAccess = { shared: {}, read: new Set(), write: new Set() };
    for (const hash of Object.keys(links)) {
      const v = this.versionOf(hash);
      if (!v) continue;
      access.read.add(v.name);
      access.write.add(v.name);
      const declared = Object.entries(v.manifest.state.shared);
      if (declared.length === 0) continue;
      const owner = this.ownerOf(v.name) ?? (newOwner ? { id: newOwner.id, name: newOwner.name, role: newOwner.role } : undefined);
      const entry: { [ns: string]: Access | null } = {};
      for (const [ns, want] of declared) {
        const held = owner ? this.held(owner, ns) : null;
        const eff: Access | null = held === null ? null : want === 'rw' && held === 'rw' ? 'rw' : 'r';
        entry[ns] = eff;
        if (eff) access.read.add(`shared:${ns}`);
        if (eff === 'rw') access.write.add(`shared:${ns}`);
      }
      access.shared[hash] = entry;
    }
    if (cacheable) this.runCache.set(links, { epoch: this.epoch, access });
    return access;
  }

  /** Before a tree's transaction commits: everything it read or wrote was within `access`. The
   *  worker enforces the same rules; this is the kernel's own check of what it is asked to commit. */
  checkTxn(access: RunAccess, txn: TxnRecord): void {
    for (const [ns] of txn.writes) if (!access.write.has(ns)) throw outside(ns, 'write');
    for (const [ns] of txn.reads) if (!access.read.has(ns)) throw outside(ns, 'read');
    for (const [ns] of txn.nsReads) if (!access.read.has(ns)) throw outside(ns, 'read');
  }

  // ------------------------------------------------------------------ grants/add, list, revoke

  add(actor: Principal, p: GrantAddParams): GrantInfo {
    if (p.kind === 'http') return this.addHttp(actor, p);
    const problem = nameProblem(p.target);
    if (problem) throw badParam('target', `a shared namespace name ${problem}`);
    if (p.methods !== undefined) throw badParam('methods', "methods belong to 'http' grants");
    const principal = this.checkPrincipal(p.principal);
    this.checkMayGrant(actor, p.target);
    const row = this.store.putGrant({
      id: `grt_${nanoid(10)}`,
      principal,
      kind: 'namespace',
      target: p.target,
      mode: p.mode ?? 'r',
      methods: null,
      grantedBy: actor.id,
      grantedByName: actor.name,
    });
    this.epoch++;
    return this.info(row);
  }

  /** http grants: operators only; the target a destination pattern (stored canonical), methods
   *  upper-cased and checked, absent for all. */
  private addHttp(actor: Principal, p: GrantAddParams): GrantInfo {
    if (actor.role !== 'operator') {
      throw fail('FORBIDDEN', 'only an operator may grant http destinations', { kind: 'http', role: actor.role });
    }
    const d = parseDestination(p.target);
    if (typeof d === 'string') throw fail('INVALID_INPUT', `http grant target ${JSON.stringify(p.target)} ${d}`, { field: 'target', value: p.target });
    if (p.mode !== undefined) throw fail('INVALID_INPUT', "mode belongs to 'namespace' grants; an http grant takes methods", { field: 'mode' });
    let methods: string[] | null = null;
    if (p.methods !== undefined) {
      const upper = p.methods.map((m) => m.trim().toUpperCase());
      const bad = upper.find((m) => !(HTTP_METHODS as readonly string[]).includes(m));
      if (bad !== undefined) throw fail('INVALID_INPUT', `http grant method ${JSON.stringify(bad)} is not one of ${HTTP_METHODS.join(', ')}`, { field: 'methods', value: bad, allowed: [...HTTP_METHODS] });
      if (upper.length === 0) throw fail('INVALID_INPUT', 'methods is empty; leave it out to grant every method', { field: 'methods' });
      methods = HTTP_METHODS.filter((m) => upper.includes(m));
    }
    const principal = this.checkPrincipal(p.principal);
    const row = this.store.putGrant({
      id: `grt_${nanoid(10)}`,
      principal,
      kind: 'http',
      target: formatDestination(d),
      mode: null,
      methods,
      grantedBy: actor.id,
      grantedByName: actor.name,
    });
    this.epoch++;
    return this.info(row);
  }

  list(actor: Principal, p: GrantListParams = {}): GrantListResult {
    const mine = (g: GrantRow) => g.kind === 'namespace' && this.store.namespaceOwner(g.target)?.ownerId === actor.id;
    const items = this.store
      .grants()
      .filter((g) => p.principal === undefined || g.principal === p.principal)
      .filter((g) => actor.role === 'operator' || g.principal === actor.id || g.principal === ROLE_PRINCIPAL_PREFIX + actor.role || mine(g))
      .map((g) => this.info(g));
    const owners = this.store
      .namespaceOwners()
      .filter((o) => actor.role === 'operator' || o.ownerId === actor.id)
      .map((o) => ({ namespace: o.namespace, owner: o.ownerId, ownerName: o.ownerName, capability: o.capability, since: new Date(o.createdAt).toISOString() }));
    return { items, owners };
  }

  revoke(actor: Principal, id: string): GrantRevokeResult {
    const row = this.store.grant(id);
    if (!row) throw fail('NOT_FOUND', `no grant '${id}'`, { id });
    if (row.kind === 'http') {
      if (actor.role !== 'operator') throw fail('FORBIDDEN', 'only an operator may revoke http grants', { kind: 'http', role: actor.role, id });
    } else this.checkMayGrant(actor, row.target);
    if (this.store.revokeGrant(id)) this.epoch++;
    return { id, revoked: true };
  }

  private checkMayGrant(actor: Principal, namespace: string): void {
    if (actor.role === 'operator') return;
    const owner = this.store.namespaceOwner(namespace);
    if (owner?.ownerId === actor.id) return;
    throw fail(
      'FORBIDDEN',
      owner ? `shared namespace ${namespace} is owned by ${owner.ownerName}; only its owner or an operator may grant or revoke access to it` : `nobody owns shared namespace ${namespace} yet; only an operator may grant it`,
      { namespace, owner: owner?.ownerName ?? null },
    );
  }

  /** A token id that exists, or `role:<role>`. */
  private checkPrincipal(principal: string): string {
    if (principal.startsWith(ROLE_PRINCIPAL_PREFIX)) {
      const role = principal.slice(ROLE_PRINCIPAL_PREFIX.length);
      if (!(ROLES as readonly string[]).includes(role)) throw badParam('principal', `'${principal}' names no role; write role:operator, role:agent or role:client`);
      return principal;
    }
    if (!this.store.token(principal)) throw fail('NOT_FOUND', `no token '${principal}' (a principal is a token id, see tokens/list, or role:<role>)`, { principal });
    return principal;
  }

  private info(g: GrantRow): GrantInfo {
    const principalName = g.principal.startsWith(ROLE_PRINCIPAL_PREFIX) ? g.principal : (this.store.token(g.principal)?.name ?? g.principal);
    return {
      id: g.id,
      principal: g.principal,
      principalName,
      kind: g.kind,
      target: g.target,
      mode: g.mode,
      methods: g.methods,
      grantedBy: g.grantedByName,
      createdAt: new Date(g.createdAt).toISOString(),
    };
  }
}

function outside(ns: string, what: 'read' | 'write') {
  return fail('STATE_FORBIDDEN', `the call tree's transaction would ${what} namespace ${ns}, which none of its capabilities holds; nothing was committed`, {
    namespace: ns,
    access: what,
  });
}

function badParam(path: string, message: string): RpcProtocolError {
  return new RpcProtocolError(RPC_CODES.INVALID_PARAMS, `invalid params at '${path}': ${message}`, { path, issues: [{ path, message }] });
}
