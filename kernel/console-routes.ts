// The web console's static files (console/dist, built by `npm run build:console` and committed):
// answered on GET and HEAD of `/` and of the files under it, with their content types, a strict
// Content-Security-Policy (only this origin's scripts, styles and WebSocket), nosniff, no framing.
// The files hold no secret (the token is pasted into the page and sent only over the WebSocket), so
// they are served without authentication; the Host check (http-origin.ts) still runs before this.

import { existsSync, readFileSync, statSync } from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where the committed build lives, beside kernel/. */
export const CONSOLE_DIST = fileURLToPath(new URL('../console/dist/', import.meta.url));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.map': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
};

/** Everything the page needs comes from this origin; `connect-src 'self'` covers the same-origin
 *  WebSocket (CSP Level 3). No inline script or style, no eval (the page sets styles through the
 *  CSSOM only, which the policy does not restrict). */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** An answer for console requests: true when it answered, false when the path is not one of
 *  its files (the server then answers as it would without a console). */
export type ConsoleHandler = (req: http.IncomingMessage, res: http.ServerResponse, pathname: string) => boolean;

/** The handler serving `dir`, or undefined when it holds no build (index.html). */
export function consoleHandler(dir: string = CONSOLE_DIST): ConsoleHandler | undefined {
  const root = path.resolve(dir);
  if (!existsSync(path.join(root, 'index.html'))) return undefined;
  // Files are read once: a build is replaced by restarting the kernel.
  const cache = new Map<string, Buffer>();
  return (req, res, pathname) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    const rel = pathname === '/' ? 'index.html' : decodeSafe(pathname.slice(1));
    if (rel === undefined) return false;
    const file = path.resolve(root, rel);
    // No way out of the build folder (`..`, encoded or not), and no dotfiles.
    if (!file.startsWith(root + path.sep) || rel.split('/').some((p) => p.startsWith('.'))) return false;
    const type = TYPES[path.extname(file).toLowerCase()];
    if (!type) return false;
    let body = cache.get(file);
    if (!body) {
      if (!existsSync(file) || !statSync(file).isFile()) return false;
      body = readFileSync(file);
      cache.set(file, body);
    }
    res.writeHead(200, {
      'content-type': type,
      'content-length': body.length,
      'content-security-policy': CONSOLE_CSP,
      'x-content-type-options': 'nosniff',
      'x-frame-options': 'DENY',
      'referrer-policy': 'no-referrer',
      // Vite names assets by content hash: they never change; index.html must be fetched again.
      'cache-control': rel.startsWith('assets/') ? 'public, max-age=31536000, immutable' : 'no-cache',
    });
    res.end(req.method === 'HEAD' ? undefined : body);
    return true;
  };
}

function decodeSafe(p: string): string | undefined {
  try {
    const d = decodeURIComponent(p);
    return d.includes('\0') || d.includes('\\') ? undefined : d;
  } catch {
    return undefined;
  }
}
