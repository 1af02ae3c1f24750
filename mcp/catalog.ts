// The current capabilities as tools, rebuilt after a commit, and what describe said about each
// name@version (a version never changes once registered).

import { LRUCache } from 'lru-cache';
import { mapLimit } from '../capabilities/map-limit.ts';
import type { McpBackend } from './backend.ts';
import { capabilityTool, type CapabilityTool, type VersionInfo } from './capability-tools.ts';
import { toolNameOf } from './tool-names.ts';

/** The current capabilities as tools, rebuilt after a commit. A version never changes once
 *  registered, so what describe said about name@version is kept. */
export class Catalog {
  private current: Promise<Map<string, CapabilityTool>> | null = null;
  // Bounded: a long-lived session over a kernel that keeps registering versions.
  private readonly versions = new LRUCache<string, Promise<VersionInfo>>({ max: 10_000 });

  constructor(private readonly backend: McpBackend) {}

  invalidate(): void {
    this.current = null;
  }

  /** A commit during a load drops it from the cache (invalidate), so a load that may have missed
   *  the commit serves only the calls already waiting for it. */
  tools(): Promise<Map<string, CapabilityTool>> {
    if (!this.current) {
      const p = this.load();
      this.current = p;
      p.catch(() => {
        if (this.current === p) this.current = null;
      });
    }
    return this.current;
  }

  version(name: string, version: string): Promise<VersionInfo> {
    const key = `${name}@${version}`;
    let p = this.versions.get(key);
    if (!p) {
      p = this.backend.call('capabilities/describe', { name, version }).then((d) => ({
        name: d.name,
        version: d.version,
        hash: d.hash,
        description: d.manifest.description,
        inputSchema: d.manifest.inputSchema,
        outputSchema: d.manifest.outputSchema,
        openWorld: (d.manifest.effects?.http.length ?? 0) > 0,
      }));
      this.versions.set(key, p);
      p.catch(() => this.versions.delete(key));
    }
    return p;
  }

  private async load(): Promise<Map<string, CapabilityTool>> {
    const current: Array<{ name: string; version: string }> = [];
    let cursor: string | undefined;
    for (;;) {
      const page = await this.backend.call('capabilities/list', cursor === undefined ? { limit: 1000 } : { limit: 1000, cursor });
      for (const it of page.items) if (it.current !== null) current.push({ name: it.name, version: it.current });
      if (!page.nextCursor) break;
      cursor = page.nextCursor;
    }
    const infos = await mapLimit(current, 16, (c) => this.version(c.name, c.version).catch(() => null));
    const out = new Map<string, CapabilityTool>();
    for (const info of infos) if (info) out.set(toolNameOf(info.name), capabilityTool(info));
    return out;
  }
}
