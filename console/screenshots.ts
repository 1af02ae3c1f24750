// Takes the screenshots in docs/console/ (one per view) from a real kernel with the example graph
// and a little traffic, in headless Chromium. Run once after a visible change to the console:
//   npm run build:console && node --no-node-snapshot --import tsx console/screenshots.ts

import { mkdtempSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Page } from 'playwright-core';
import { startKernel } from '../kernel/index.ts';
import { SubstrateClient } from '../kernel/client.ts';

const OUT = new URL('../docs/console/', import.meta.url);
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

const dataDir = mkdtempSync(path.join(os.tmpdir(), 'substrate-shots-'));
const k = await startKernel({ dataDir, port: 0, workers: 1, example: true });
const c = await SubstrateClient.connect(k.url, { token: k.operatorToken });
const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'] });
try {
  mkdirSync(OUT, { recursive: true });
  // Traffic for the history, jobs, schedules and logs.
  await c.call('capabilities/register', { source: readFileSync(new URL('../docs/examples/tokenize-1.1.js', import.meta.url), 'utf8') });
  await c.call('capabilities/register', {
    source: `export const manifest = {
  name: 'text.nightly',
  version: '1.0.0',
  description: 'Counts a text later, as a job, and every night',
  dependencies: { 'text.wordcount': '^1.0.0' },
  schedules: [{ cron: '0 3 * * *', input: { text: 'nightly' } }],
};
export default async function (input, ctx) {
  ctx.log('queueing a count of', JSON.stringify(input.text));
  await ctx.enqueue('text.wordcount', { text: input.text ?? '' });
  return { queued: true };
}
`,
  });
  await c.call('capabilities/invoke', { name: 'text.report', input: { text: 'the quick brown fox jumps over the lazy dog' } });
  await c.call('capabilities/invoke', { name: 'text.nightly', input: { text: 'to be or not to be' } });

  const page = await browser.newPage({ viewport: { width: 1440, height: 900 }, deviceScaleFactor: 1 });
  const origin = k.url.replace(/^ws/, 'http');
  await page.goto(origin);
  await shot(page, 'signin');
  await page.getByTestId('token').fill(k.operatorToken);
  await page.getByTestId('sign-in').click();
  await page.locator('[data-testid="node-text.report"]').click();
  await page.getByTestId('impact').waitFor();
  await shot(page, 'graph');
  await page.getByTestId('tab-history').click();
  await page.getByTestId('change-text.tokenize-1.1.0').click();
  await page.getByTestId('diff').waitFor();
  await shot(page, 'history');
  await page.getByTestId('tab-invoke').click();
  await page.getByTestId('invoke-name').selectOption('text.report');
  await page.getByTestId('invoke-input').fill('{ "text": "To be, or not to be: that is the question." }');
  await page.getByTestId('invoke').click();
  await page.getByTestId('invoke-result').waitFor();
  await shot(page, 'invoke');
  await page.getByTestId('invoke-input').fill('{ "text": 42 }');
  await page.getByTestId('invoke').click();
  await page.getByTestId('invoke-error').waitFor();
  await shot(page, 'invoke-error');
  await page.getByTestId('tab-live').click();
  await page.getByTestId('jobs').locator('td').first().waitFor();
  await shot(page, 'live');
} finally {
  await browser.close();
  c.close();
  await k.close();
  rmSync(dataDir, { recursive: true, force: true });
}

async function shot(page: Page, name: string): Promise<void> {
  await page.waitForTimeout(300); // let the layout settle before the picture (not a test)
  await page.screenshot({ path: new URL(`${name}.png`, OUT).pathname });
  process.stdout.write(`docs/console/${name}.png\n`);
}
