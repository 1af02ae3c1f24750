// The raw baseline server: a bare `ws` server that sends every text frame straight back, in its own
// process (spawned with plain `node` by bench/baselines.ts). Prints its port; exits when its
// parent closes stdin or sends SIGTERM.
import { WebSocketServer } from 'ws';

const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
});
wss.on('listening', () => process.stdout.write(JSON.stringify({ port: wss.address().port }) + '\n'));
const stop = () => {
  for (const c of wss.clients) c.terminate();
  wss.close(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.stdin.on('end', stop);
process.stdin.resume();
