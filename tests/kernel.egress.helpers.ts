// Shared by the kernel.egress tests: local HTTP servers on 127.0.0.1 port 0 that count their hits,
// a policy built from plain data the test can change between requests, and request builders.

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { EgressCaller, EgressRequest, EgressResult, Effects } from '../capabilities/effects.ts';
import type { Manifest } from '../capabilities/types.ts';
import type { EgressPolicy, EgressSecret, HttpGrant, Lookup } from '../kernel/egress.ts';

export interface Hit {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface TestServer {
  port: number;
  hits: Hit[];
  close(): Promise<void>;
}

const servers: Array<http.Server | { close(cb: () => void): void }> = [];

export async function startServer(
  handler: (req: http.IncomingMessage, res: http.ServerResponse, hit: Hit) => void,
  opts: { make?: (l: http.RequestListener) => http.Server; host?: string } = {},
): Promise<TestServer> {
  const hits: Hit[] = [];
  const listener: http.RequestListener = (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const hit = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      hits.push(hit);
      handler(req, res, hit);
    });
  };
  const server = opts.make ? opts.make(listener) : http.createServer(listener);
  await new Promise<void>((r) => server.listen(0, opts.host ?? '127.0.0.1', r));
  servers.push(server);
  const close = (): Promise<void> =>
    new Promise((r) => {
      server.closeAllConnections?.();
      server.close(() => r());
    });
  return { port: (server.address() as AddressInfo).port, hits, close };
}

export async function closeServers(): Promise<void> {
  await Promise.all(
    servers.splice(0).map(
      (s) =>
        new Promise<void>((r) => {
          (s as http.Server).closeAllConnections?.();
          s.close(() => r());
        }),
    ),
  );
}

export function manifest(effects: Effects | undefined, name = 'weather'): Manifest {
  return {
    name,
    version: '1.0.0',
    description: 'test',
    dependencies: {},
    state: { shared: {} },
    limits: { timeoutMs: 5000, memoryMb: 64 },
    tests: [],
    ...(effects ? { effects } : {}),
  };
}

/** A policy over plain data; change its fields between requests. */
export class TestPolicy implements EgressPolicy {
  manifests = new Map<string, Manifest>();
  grants: HttpGrant[] | 'all' = [];
  secrets = new Map<string, EgressSecret>();
  owner = { id: 'tok_alice', name: 'alice' };

  manifestOf(hash: string): Manifest | null {
    return this.manifests.get(hash) ?? null;
  }
  ownerOf(hash: string): { id: string; name: string } | null {
    return this.manifests.has(hash) ? this.owner : null;
  }
  grantsOf(): HttpGrant[] | 'all' {
    return this.grants;
  }
  secret(name: string): EgressSecret | null {
    return this.secrets.get(name) ?? null;
  }
}

/** A lookup over a table; counts its calls. Unknown names fail as DNS does (ENOTFOUND). */
export function tableLookup(table: { [host: string]: string[] }): Lookup & { calls: string[] } {
  const calls: string[] = [];
  const fn = (host: string): Promise<Array<{ address: string; family: number }>> => {
    calls.push(host);
    const a = table[host];
    if (!a) return Promise.reject(Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' }));
    return Promise.resolve(a.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })));
  };
  return Object.assign(fn, { calls });
}

export function caller(over: Partial<EgressCaller> = {}): EgressCaller {
  return { invocationId: 'inv_1', hash: 'h1', name: 'weather', version: '1.0.0', deadline: Date.now() + 20_000, ...over };
}

export function req(url: string, init: { method?: string; headers?: Array<[string, string]>; body?: string } = {}): EgressRequest {
  return { method: init.method ?? 'GET', url, headers: init.headers ?? [], body: init.body === undefined ? null : Buffer.from(init.body).toString('base64') };
}

export function ok(r: EgressResult): { status: number; text: string; headers: Array<[string, string]>; url: string; redirected: boolean } {
  if (!r.ok) throw new Error(`expected a response, got ${r.error.type}: ${r.error.message}`);
  return { status: r.response.status, text: Buffer.from(r.response.body, 'base64').toString('utf8'), headers: r.response.headers, url: r.response.url, redirected: r.response.redirected };
}

export function err(r: EgressResult): { type: string; message: string; data: { [k: string]: unknown } } {
  if (r.ok) throw new Error(`expected an error, got status ${r.response.status}`);
  return r.error;
}
