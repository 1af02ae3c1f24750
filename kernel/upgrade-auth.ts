// Who may open the kernel's WebSocket: the decision on one upgrade request, before the socket is
// handed to ws. In order: the path (only `/`), the Origin (a page of another site can open a
// WebSocket to the loopback; browsers send its Origin, http-origin.ts), then the token — from
// `Authorization: Bearer`, or, since browsers cannot set that header on a WebSocket, from the
// subprotocols `substrate.v1` + `substrate.token.<token>` (auth.ts protocolOffer), which only
// counts once the Origin check has kept other sites out.

import type http from 'node:http';
import type { Duplex } from 'node:stream';
import type { Principal } from '../capabilities/types.ts';
import { WS_PROTOCOL, bearer, protocolOffer, type Auth } from './auth.ts';
import { refusalBody, type OriginPolicy } from './http-origin.ts';

export type UpgradeDecision =
  | { ok: true; token: string; principal: Principal }
  | { ok: false; status: 403 | 401 | 404; body: string };

export function decideUpgrade(req: http.IncomingMessage, path: string, origins: OriginPolicy | undefined, auth: Auth): UpgradeDecision {
  if (path !== '/') return { ok: false, status: 404, body: '' };
  const refused = origins?.check(req.headers);
  if (refused) return { ok: false, status: 403, body: refusalBody(refused) };
  const offer = protocolOffer(req.headers['sec-websocket-protocol']);
  const headerToken = bearer(req.headers.authorization);
  const token = headerToken ?? offer.token;
  const principal = auth.verify(token);
  if (principal && token && (headerToken || offer.speaks)) return { ok: true, token, principal };
  const message = !token
    ? 'an Authorization: Bearer <token> header (or, from a browser, the subprotocols substrate.v1 and substrate.token.<token>) is required'
    : !principal
      ? `the ${headerToken ? 'bearer' : 'subprotocol'} token is unknown or revoked`
      : `a token sent as a subprotocol needs the subprotocol ${WS_PROTOCOL} offered beside it`;
  return { ok: false, status: 401, body: JSON.stringify({ error: { type: 'UNAUTHORIZED', message } }) };
}

const STATUS_TEXT = { 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found' } as const;

/** Answers a refused upgrade on the raw socket and closes it. */
export function refuseUpgrade(socket: Duplex, d: Extract<UpgradeDecision, { ok: false }>): void {
  const head = `HTTP/1.1 ${d.status} ${STATUS_TEXT[d.status]}\r\n`;
  if (!d.body) socket.end(`${head}Connection: close\r\n\r\n`);
  else socket.end(`${head}Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(d.body)}\r\nConnection: close\r\n\r\n${d.body}`);
}
