// The console's static files as the kernel serves them (kernel/console-routes.ts): content types,
// the Content-Security-Policy and nosniff, nothing outside console/dist, the Host check, and
// `console: false` (substrate start --no-console) leaving `GET /` as it was (426).

import http from 'node:http';
import { readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONSOLE_DIST } from '../kernel/console-routes.ts';
import { startTestKernel, type TestKernel } from './helpers.ts';

function get(port: number, path: string, opts: { method?: string; host?: string } = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: opts.method ?? 'GET', headers: opts.host ? { host: opts.host } : {} }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('console static files', () => {
  let k: TestKernel;
  beforeAll(async () => {
    k = await startTestKernel();
  });
  afterAll(async () => {
    await k.stop();
  });

  it('serves index.html on / with a strict policy, and the built assets with their types', async () => {
    const index = await get(k.port, '/');
    expect(index.status).toBe(200);
    expect(index.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(index.headers['x-content-type-options']).toBe('nosniff');
    const csp = String(index.headers['content-security-policy']);
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe');
    // Nothing from elsewhere: every script and stylesheet is a file of this origin.
    const refs = [...index.body.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
    for (const r of refs) expect(r.startsWith('/') || r.startsWith('data:')).toBe(true);

    const assets = readdirSync(new URL('assets/', `file://${CONSOLE_DIST}`));
    const js = assets.find((a) => a.endsWith('.js'))!;
    const css = assets.find((a) => a.endsWith('.css'))!;
    const script = await get(k.port, `/assets/${js}`);
    expect(script.status).toBe(200);
    expect(script.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(script.headers['cache-control']).toContain('immutable');
    expect((await get(k.port, `/assets/${css}`)).headers['content-type']).toBe('text/css; charset=utf-8');
    const head = await get(k.port, '/', { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
  });

  it('serves nothing outside the build, nor what it does not know', async () => {
    for (const p of ['/../package.json', '/%2e%2e/package.json', '/assets/../../kernel/index.ts', '/.hidden.js', '/nope.js', '/assets/%00.js']) {
      const r = await get(k.port, p);
      expect(r.status, p).toBe(404);
    }
    expect((await get(k.port, '/', { method: 'POST' })).status).toBe(426);
    // The health routes and /mcp are still theirs.
    expect((await get(k.port, '/healthz')).status).toBe(200);
  });

  it('refuses a Host that is not the loopback (DNS rebinding), as every route does', async () => {
    const r = await get(k.port, '/', { host: 'evil.example' });
    expect(r.status).toBe(403);
  });

  it('with console: false, GET / answers 426 as before', async () => {
    const off = await startTestKernel({ console: false });
    try {
      const r = await get(off.port, '/');
      expect(r.status).toBe(426);
      expect(r.body).toContain('Substrate speaks JSON-RPC over WebSocket here.');
    } finally {
      await off.stop();
    }
  });
});
