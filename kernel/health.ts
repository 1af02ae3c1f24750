// GET /healthz and GET /readyz (contract "Health"): unauthenticated, so they answer with a status
// and a fixed word and nothing else, not the version, the pid or the number of workers.
// /healthz: the process serves HTTP. /readyz: the store is open and the sandbox pool has a worker
// ready, and the kernel is not shutting down; 503 otherwise (while starting, while closing, while
// every worker is being replaced).

import type http from 'node:http';

export const HEALTH_PATHS = new Set(['/healthz', '/readyz']);

/** Answers a health request and returns true, or returns false for any other path. */
export function answerHealth(pathname: string, req: http.IncomingMessage, res: http.ServerResponse, ready: () => boolean): boolean {
  if (!HEALTH_PATHS.has(pathname)) return false;
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' });
    res.end('method not allowed\n');
    return true;
  }
  const ok = pathname === '/healthz' || ready();
  const body = ok ? 'ok\n' : 'not ready\n';
  res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body) });
  res.end(req.method === 'HEAD' ? undefined : body);
  return true;
}
