// A kernel in its own process for the WebSocket benches, so that the bench's client does not share
// an event loop with the server it measures (as the raw echo baseline does not). Started by
// bench/kernel-process.ts: argv = dataDir [workers]; prints { url, token, pid }; closes the kernel
// on SIGTERM or when its parent closes stdin.
import { startKernel } from '../kernel/index.ts';

const [dataDir, workersArg] = process.argv.slice(2);
if (!dataDir) {
  process.stderr.write('usage: kernel-main.ts <dataDir> [workers]\n');
  process.exit(2);
}
const running = await startKernel({ dataDir, port: 0, workers: workersArg ? Number(workersArg) : undefined, mcp: false });
process.stdout.write(JSON.stringify({ url: running.url, token: running.operatorToken, pid: process.pid }) + '\n');
let closing = false;
const stop = async () => {
  if (closing) return;
  closing = true;
  await running.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.stdin.on('end', stop);
process.stdin.resume();
