// The first step of the commit pipeline, outside the commit lock: every change of a changeset
// checked for ownership and turned into a plannable change; a register compiled, inspected in
// the sandbox (the module is never evaluated in the kernel), its manifest parsed and its schemas
// compiled, hashed, and checked against what is stored and what other changesets hold. Under the
// lock, recheckNew repeats the checks that what committed meanwhile can invalidate.

import semver from 'semver';
import { exceeded, fail } from '../capabilities/errors.ts';
import type { PlannedChange } from '../capabilities/changeset.ts';
import { compileSource } from '../capabilities/compile.ts';
import type { GraphVersion } from '../capabilities/graph.ts';
import { contentHash } from '../capabilities/hash.ts';
import { parseManifest } from '../capabilities/manifest.ts';
import { assertName } from '../capabilities/names.ts';
import type { Json, JsonObject, Language, Principal, VersionRecord } from '../capabilities/types.ts';
import { KERNEL_LIMITS } from '../capabilities/types.ts';
import type { StoreApi } from '../store/types.ts';
import type { SandboxPool } from '../sandbox/pool.ts';
import { checkManifestSchemas } from '../sandbox/schema-compiler.ts';
import type { ChangeParams } from './api.ts';
import type { Generation } from './generation.ts';
import type { GrantRules, Owner } from './grants.ts';

/** A register change once compiled, inspected and hashed: ready to plan. */
export interface PreparedVersion {
  record: VersionRecord;
  existing: boolean;
  activate: boolean;
}

export class Preparation {
  constructor(
    private readonly store: StoreApi,
    private readonly pool: SandboxPool,
    private readonly gen: Generation,
    private readonly grants: GrantRules,
  ) {}

  /** Compiles, inspects and hashes every register change; checks ownership and versions. */
  async prepare(principal: Principal, changes: ChangeParams[], via: 'register' | 'apply'): Promise<{ prepared: PreparedVersion[]; planned: PlannedChange[] }> {
    const prepared: PreparedVersion[] = [];
    const planned: PlannedChange[] = [];
    const claims = new Map<string, Owner>();
    for (const change of changes) {
      if (change.op === 'register') {
        const p = await this.prepareVersion(principal, change.source, change.manifest, change.language, change.activate ?? true, claims);
        if (via === 'register' && p.activate) {
          const cur = this.gen.graph.current(p.record.name);
          if (cur && cur.hash !== p.record.hash && semver.lt(p.record.version, cur.version)) {
            throw fail('VERSION_NOT_NEWER', `${p.record.name} ${p.record.version} is older than the current ${cur.version}; upload it with activate: false, or use rollback`, {
              name: p.record.name,
              version: p.record.version,
              current: cur.version,
            });
          }
        }
        prepared.push(p);
        planned.push({ op: 'register', version: toGraphVersion(p.record), activate: p.activate });
      } else if (change.op === 'activate') {
        assertName(change.name);
        this.checkOwner(principal, change.name);
        planned.push({ op: 'activate', name: change.name, version: change.version });
      } else if (change.op === 'remove') {
        assertName(change.name);
        this.checkOwner(principal, change.name);
        planned.push({ op: 'remove', name: change.name });
      } else {
        throw fail('INVALID_MANIFEST', `unknown change op '${(change as { op: unknown }).op}'`, { op: (change as { op: unknown }).op as Json });
      }
    }
    return { prepared, planned };
  }

  /** Only the owner of a capability (or an operator) changes it; a new name is anyone's. */
  checkOwner(principal: Principal, name: string): void {
    if (principal.role === 'operator') return;
    const cap = this.store.capability(name);
    if (cap && cap.ownerId !== principal.id) {
      throw fail('FORBIDDEN', `'${name}' is owned by ${cap.ownerName}; only its owner or an operator may change it`, {
        name,
        owner: cap.ownerName,
      });
    }
  }

  /** Under the lock: the versions still to store, after what committed meanwhile (a first
   *  registration of the name by someone else, the same name and version with other content). */
  recheckNew(principal: Principal, fresh: VersionRecord[]): VersionRecord[] {
    const out: VersionRecord[] = [];
    const claims = new Map<string, Owner>();
    for (const r of fresh) {
      this.checkOwner(principal, r.name);
      // A shared namespace claimed by a changeset that committed meanwhile now needs a grant.
      this.grants.checkDeclaration(this.grants.ownerOf(r.name) ?? principal, r.manifest, claims);
      const stored = this.store.findVersion(r.name, r.version);
      if (stored && stored.hash !== r.hash) {
        throw fail('VERSION_EXISTS', `${r.name} ${r.version} is already registered with different content; bump the version`, { name: r.name, version: r.version, hash: stored.hash });
      }
      if (!stored) out.push(r);
    }
    return out;
  }

  private async prepareVersion(principal: Principal, source: string, manifestIn: JsonObject | undefined, language: Language | undefined, activate: boolean, claims: Map<string, Owner>): Promise<PreparedVersion> {
    if (typeof source !== 'string' || source.length === 0) throw fail('COMPILE_ERROR', 'source is empty', {});
    if (Buffer.byteLength(source) > KERNEL_LIMITS.maxPayloadBytes) {
      throw exceeded('size', 'source is larger than 1 MiB', { what: 'source', limit: KERNEL_LIMITS.maxPayloadBytes });
    }
    const lang: Language = language ?? 'js';
    const compiled = compileSource(source, lang);
    // The module is evaluated only in the sandbox, never here: that is where an in-source
    // manifest is read and where the default export is checked.
    // The worker keeps the inspection's isolate for the first run when the memory limit matches:
    // tell it the limit a manifest sent beside the source asks for (in-source ones get the default).
    const limits = manifestIn?.limits;
    const memoryMb = limits && typeof limits === 'object' && !Array.isArray(limits) && typeof limits.memoryMb === 'number' ? limits.memoryMb : undefined;
    const inspection = await this.pool.inspect(compiled, { memoryMb });
    const raw = manifestIn ?? inspection.manifest;
    if (raw === undefined || raw === null) {
      throw fail('INVALID_MANIFEST', 'no manifest: export `const manifest = {...}` from the module or send `manifest` beside the source', { field: 'manifest' });
    }
    const manifest = parseManifest(raw, { compileSchemas: false });
    await checkManifestSchemas(manifest);
    if (!inspection.hasDefault) {
      throw fail('COMPILE_ERROR', 'the module has no default export function', { name: manifest.name, line: null, column: null });
    }
    this.checkOwner(principal, manifest.name);
    this.grants.checkDeclaration(this.grants.ownerOf(manifest.name) ?? principal, manifest, claims);
    const hash = contentHash(manifest, source);
    const existing = this.store.findVersion(manifest.name, manifest.version) ?? this.gen.pendingVersion(manifest.name, manifest.version);
    if (existing && existing.hash !== hash) {
      throw fail('VERSION_EXISTS', `${manifest.name} ${manifest.version} is already registered with different content; bump the version`, {
        name: manifest.name,
        version: manifest.version,
        hash: existing.hash,
      });
    }
    const record: VersionRecord = existing ?? {
      name: manifest.name,
      version: manifest.version,
      hash,
      manifest,
      source,
      language: lang,
      compiled,
      hasMigrate: inspection.hasMigrate,
      createdAt: Date.now(),
      principal: principal.name,
    };
    return { record, existing: existing !== undefined, activate };
  }
}

function toGraphVersion(r: VersionRecord): GraphVersion {
  return { name: r.name, version: r.version, hash: r.hash, dependencies: r.manifest.dependencies };
}
