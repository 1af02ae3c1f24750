// The web console end to end, in real headless Chromium (Debian's `chromium`, driven by
// playwright-core) against a real kernel with the example graph: sign-in with operator and client
// tokens (the client is offered no management action), the graph and its edges, a registration over
// the API appearing without a reload, invoking from the form (result and typed error), the history
// diff, a wrong token refused, a token revoked while open signing the page out. Each test starts
// its own kernel and browser and ends both.

import { readFileSync, existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startTestKernel, cap, type TestKernel } from './helpers.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const LAUNCH_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'];
const WAIT = { timeout: 30_000 };

interface Ctx {
  k: TestKernel;
  page: Page;
  /** http://127.0.0.1:PORT/ */
  origin: string;
  /** Messages the page logged as errors, and uncaught exceptions (CSP violations show here). */
  pageErrors: string[];
}

/** Starts a kernel with the example graph and a browser on its console; ends both after `fn`. */
async function withConsole(fn: (c: Ctx) => Promise<void>): Promise<void> {
  const k = await startTestKernel({ example: true });
  let browser: Browser | undefined;
  try {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: LAUNCH_ARGS });
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') pageErrors.push(m.text());
    });
    const origin = k.url.replace(/^ws/, 'http');
    await page.goto(origin);
    await fn({ k, page, origin, pageErrors });
  } finally {
    await browser?.close();
    await k.stop();
  }
}

async function signIn(page: Page, token: string): Promise<void> {
  await page.getByTestId('token').fill(token);
  await page.getByTestId('sign-in').click();
  await page.getByTestId('principal').waitFor(WAIT);
}

const node = (page: Page, name: string) => page.locator(`[data-testid="node-${name}"]`);
const edge = (page: Page, from: string, to: string) => page.locator(`[data-testid="edge-${from}-${to}"]`);

describe('web console (headless Chromium)', () => {
  it('has a Chromium to drive (.ci/run installs Debian\'s chromium; CHROMIUM_PATH points elsewhere)', () => {
    expect(existsSync(CHROMIUM), `no Chromium at ${CHROMIUM}: apt-get install chromium`).toBe(true);
  });

  it('an operator signs in and sees the example graph, its edges with ranges, and describe with impact', async () => {
    await withConsole(async ({ k, page, pageErrors }) => {
      await signIn(page, k.operatorToken);
      await expect(page.getByTestId('principal').textContent()).resolves.toContain('operator');
      for (const n of ['text.tokenize', 'text.frequency', 'text.wordcount', 'text.report']) await node(page, n).waitFor(WAIT);
      await node(page, 'shared:text.stats').waitFor(WAIT);
      expect(await edge(page, 'text.wordcount', 'text.tokenize').getAttribute('data-kind')).toBe('call');
      expect(await edge(page, 'text.wordcount', 'text.tokenize').textContent()).toContain('^1.0.0 → 1.0.0');
      expect(await edge(page, 'text.report', 'text.wordcount').textContent()).toContain('^1.0.0');
      expect(await edge(page, 'text.wordcount', 'shared:text.stats').getAttribute('data-kind')).toBe('state');
      // Management is offered to an operator.
      await page.getByTestId('tab-register').waitFor(WAIT);
      await node(page, 'text.tokenize').click();
      await page.getByTestId('manage-actions').waitFor(WAIT);
      await expect(page.getByTestId('source').textContent()).resolves.toContain("name: 'text.tokenize'");
      // Highlighted: highlight.js wrapped the keywords.
      expect(await page.locator('[data-testid="source"] .hljs-keyword').count()).toBeGreaterThan(0);
      const dependents = await page.getByTestId('dependents').textContent();
      expect(dependents).toContain('text.wordcount');
      expect(dependents).toContain('text.frequency');
      await expect(page.getByTestId('impact').textContent()).resolves.toContain('splits on spaces and punctuation');
      expect(pageErrors).toEqual([]);
    });
  });

  it('a client token signs in and is offered no management action', async () => {
    await withConsole(async ({ k, page }) => {
      const client = k.auth.create('client', 'dashboard');
      await signIn(page, client.token);
      await expect(page.getByTestId('principal').textContent()).resolves.toContain('client');
      await node(page, 'text.report').click();
      await page.getByTestId('details').waitFor(WAIT);
      await page.getByTestId('source').waitFor(WAIT);
      expect(await page.getByTestId('manage-actions').count()).toBe(0);
      expect(await page.getByTestId('rollback').count()).toBe(0);
      expect(await page.getByTestId('tab-register').count()).toBe(0);
      // Nor can the register view be reached by its address.
      await page.goto(page.url().replace(/#.*$/, '') + '#register');
      await node(page, 'text.report').waitFor(WAIT);
      expect(await page.getByTestId('register-source').count()).toBe(0);
      // The live view shows jobs and schedules, and no logs (clients may not read them).
      await page.getByTestId('tab-live').click();
      await page.getByTestId('jobs').waitFor(WAIT);
      await page.getByTestId('schedules').waitFor(WAIT);
      expect(await page.getByTestId('logs').count()).toBe(0);
    });
  });

  it('a registration made over the API appears in the graph without a reload, an enqueue edge dashed', async () => {
    await withConsole(async ({ k, page }) => {
      await signIn(page, k.operatorToken);
      await node(page, 'text.report').waitFor(WAIT);
      const gen = await page.getByTestId('generation').textContent();
      const c = await k.client();
      await c.call('capabilities/register', {
        source: cap({
          name: 'demo.later',
          deps: { 'text.tokenize': '^1.0.0', 'text.wordcount': '^1.0.0' },
          body: "await ctx.enqueue('text.wordcount', { text: input.text ?? '' });\nreturn ctx.call('text.tokenize', { text: input.text ?? '' });",
        }),
      });
      await node(page, 'demo.later').waitFor(WAIT);
      expect(await page.getByTestId('generation').textContent()).not.toBe(gen);
      expect(await edge(page, 'demo.later', 'text.tokenize').getAttribute('data-kind')).toBe('call');
      expect(await edge(page, 'demo.later', 'text.wordcount').getAttribute('data-kind')).toBe('enqueue');
      const dash = await edge(page, 'demo.later', 'text.wordcount').locator('path').evaluate((p) => getComputedStyle(p).strokeDasharray);
      expect(dash).not.toBe('none');
    });
  });

  it('invoking from the form shows the output and duration; a failing invoke shows the typed error', async () => {
    await withConsole(async ({ k, page }) => {
      await signIn(page, k.operatorToken);
      await page.getByTestId('tab-invoke').click();
      await page.getByTestId('invoke-name').selectOption('text.tokenize');
      // The form starts from the manifest's first test input.
      await expect.poll(() => page.getByTestId('invoke-input').inputValue(), WAIT).toContain('Hello, hello world!');
      await page.getByTestId('invoke-input').fill('{ "text": "The quick brown fox" }');
      await page.getByTestId('invoke').click();
      await page.getByTestId('invoke-result').waitFor(WAIT);
      expect(JSON.parse((await page.getByTestId('invoke-output').textContent())!)).toEqual({ tokens: ['the', 'quick', 'brown', 'fox'] });
      await expect(page.getByTestId('duration').textContent()).resolves.toMatch(/ms$/);

      // Not JSON: refused in the page, nothing sent.
      await page.getByTestId('invoke-input').fill('{ "text": ');
      await page.getByTestId('invoke-invalid').waitFor(WAIT);
      expect(await page.getByTestId('invoke').isDisabled()).toBe(true);
      // Against the schema: the page says so, and the kernel answers with the typed error.
      await page.getByTestId('invoke-input').fill('{ "text": 42 }');
      await expect(page.getByTestId('invoke-schema-problems').textContent()).resolves.toContain('$.text: expected string');
      await page.getByTestId('invoke').click();
      await page.getByTestId('invoke-error').waitFor(WAIT);
      await expect(page.locator('[data-testid="invoke-error"] .error-type').textContent()).resolves.toBe('INVALID_INPUT');

      // A capability that throws: CAPABILITY_ERROR with its message.
      const c = await k.client();
      await c.call('capabilities/register', { source: cap({ name: 'demo.broken', body: "throw new Error('the disk is on fire');" }) });
      await page.getByTestId('invoke-name').locator('option[value="demo.broken"]').waitFor({ state: 'attached', ...WAIT });
      await page.getByTestId('invoke-name').selectOption('demo.broken');
      // Its describe fills the form (no tests, no schema: {}); then the input is ours.
      await expect.poll(() => page.getByTestId('invoke-input').inputValue(), WAIT).toBe('{}');
      await page.getByTestId('invoke-input').fill('{}');
      await expect.poll(() => page.getByTestId('invoke').isEnabled(), WAIT).toBe(true);
      await page.getByTestId('invoke').click();
      await expect.poll(() => page.locator('[data-testid="invoke-error"] .error-type').textContent(), WAIT).toBe('CAPABILITY_ERROR');
      await expect(page.getByTestId('invoke-error').textContent()).resolves.toContain('the disk is on fire');
    });
  });

  it('the history shows the journal and a version diffed against the one before it', async () => {
    await withConsole(async ({ k, page }) => {
      await signIn(page, k.operatorToken);
      const c = await k.client();
      await c.call('capabilities/register', { source: readFileSync(new URL('../docs/examples/tokenize-1.1.js', import.meta.url), 'utf8') });
      await page.getByTestId('tab-history').click();
      await page.getByTestId('change-text.tokenize-1.1.0').click();
      const diff = page.getByTestId('diff');
      await diff.waitFor(WAIT);
      const added = await diff.locator('.line.add').allTextContents();
      const removed = await diff.locator('.line.del').allTextContents();
      expect(added.some((l) => l.includes("version: '1.1.0'"))).toBe(true);
      expect(removed.some((l) => l.includes("version: '1.0.0'"))).toBe(true);
      // Unchanged lines are shown, not marked.
      expect(await diff.locator('.line:not(.add):not(.del)').filter({ hasText: "name: 'text.tokenize'" }).count()).toBe(1);
      // The first version of a capability: everything is new.
      await page.getByTestId('change-text.report-1.0.0').click();
      await expect.poll(() => page.getByTestId('diff').locator('.line.del').count(), WAIT).toBe(0);
    });
  });

  it('a wrong token is refused and the page stays on sign-in; a signed-in tab survives a reload (sessionStorage)', async () => {
    await withConsole(async ({ k, page, origin }) => {
      await page.getByTestId('token').fill('sbt_not-a-real-token');
      await page.getByTestId('sign-in').click();
      await expect(page.getByTestId('signin-error').textContent()).resolves.toContain('refused');
      expect(await page.getByTestId('principal').count()).toBe(0);
      expect(await page.evaluate(() => sessionStorage.getItem('substrate.token'))).toBeNull();
      // Nothing of the token in the address.
      expect(page.url()).not.toContain('sbt_');

      await signIn(page, k.operatorToken);
      await page.reload();
      await page.getByTestId('principal').waitFor(WAIT);
      await page.getByTestId('sign-out').click();
      await page.getByTestId('token').waitFor(WAIT);
      expect(await page.evaluate(() => sessionStorage.getItem('substrate.token'))).toBeNull();
      expect(page.url().startsWith(origin)).toBe(true);
    });
  });

  it('a token revoked while the page is open signs it out', async () => {
    await withConsole(async ({ k, page }) => {
      const agent = k.auth.create('agent', 'console-agent');
      await signIn(page, agent.token);
      await expect(page.getByTestId('principal').textContent()).resolves.toContain('agent');
      // An agent may manage (what it owns): the register view is offered.
      await page.getByTestId('tab-register').waitFor(WAIT);
      k.auth.revoke(agent.id);
      await expect(page.getByTestId('signin-error').textContent()).resolves.toContain('revoked');
      expect(await page.evaluate(() => sessionStorage.getItem('substrate.token'))).toBeNull();
    });
  });
});
