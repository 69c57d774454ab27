/**
 * The dashboard in a real browser (issue 12): headless Debian chromium driven by playwright-core
 * against a real `brr serve` child on a real home, with an example app deployed through the CLI
 * (v1..v3). Signs in with a deployer token, reads the apps and the release timeline, opens a diff,
 * rolls back through the confirmation dialog (by keyboard too), and watches releases made by the
 * server and by the CLI appear without a reload. Screenshots go to test-output/dashboard/.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, missingChromium } from '../helpers/browser.js';
import { BRR, ROOT, Sandbox, TEST_SECRETS_KEY } from './harness.js';

const SHOTS = path.join(ROOT, 'test-output', 'dashboard');
const noBrowser = missingChromium();

interface ReleaseJson {
  id: string;
  cause: string;
  actor: string;
  build: { digest: string; commit: string };
}

/** Starts `brr serve --listen 127.0.0.1:0` and resolves to its base URL once it prints it. */
function startServe(sb: Sandbox): Promise<{ child: ChildProcess; url: string; output: () => string }> {
  const child = spawn(process.execPath, [BRR, 'serve', '--listen', '127.0.0.1:0'], {
    cwd: sb.repo,
    env: { ...process.env, BRR_HOME: sb.home, NO_COLOR: '1', BRR_SECRETS_KEY: TEST_SECRETS_KEY },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`brr serve printed no address in 20 s:\n${out}`)), 20_000);
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = /https?:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: `http://127.0.0.1:${m[1]}`, output: () => out });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`brr serve exited ${code}:\n${out}`));
    });
  });
}

describe.skipIf(!!noBrowser)('the dashboard in headless chromium against brr serve', () => {
  let sb: Sandbox;
  let serve: Awaited<ReturnType<typeof startServe>>;
  let browser: Browser;
  let page: Page;
  let token = '';
  let signingKey = { keyId: '', file: '' };
  const releases = new Map<string, ReleaseJson>();
  const problems: string[] = [];
  let loads = 0;

  const shot = (name: string, fullPage = true) => page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage });
  const rows = () =>
    page.locator('table.timeline tbody tr').evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-release')));

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    sb = await Sandbox.create();
    // v1: a deploy with a secret and a plain value; v2: a new commit; v3: the secret changes.
    await sb.ok(['config', 'set', 'GREETING=hello']);
    await sb.ok(['config', 'set', 'API_TOKEN=s3cr3t-one', '--secret']);
    await sb.ok(['deploy']);
    sb.commit('src/extra.txt', 'second\n', 'second commit');
    signingKey = await sb.json<{ keyId: string; file: string }>(['keys', 'generate']);
    await sb.ok(['deploy', '--signing-key', signingKey.file]); // v2 is signed
    await sb.ok(['config', 'set', 'API_TOKEN=s3cr3t-two', '--secret']);
    for (const r of await sb.json<ReleaseJson[]>(['releases'])) releases.set(r.id, r);
    expect([...releases.keys()]).toEqual(['v3', 'v2', 'v1']);
    token = (await sb.json<{ token: string }>(['tokens', 'create', 'ui-tester', '--role', 'deployer'])).token;
    expect(token).toMatch(/^brr_/);
    serve = await startServe(sb);
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    page.on('load', () => (loads += 1));
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() !== 'error') return;
      // The page asks GET /api/session before sign-in: that 401 is expected, nothing else is.
      if (/401/.test(m.text()) && m.location().url.endsWith('/api/session')) return;
      problems.push(`console: ${m.text()} (${m.location().url})`);
    });
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    if (serve?.child.exitCode === null) {
      const exited = new Promise((r) => serve.child.once('exit', r));
      serve.child.kill('SIGTERM');
      await exited;
    }
    await sb?.cleanup();
  });

  it('serves the page under a strict CSP, with no inline script or style', async () => {
    const res = await fetch(`${serve.url}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy') ?? '').toContain("default-src 'self'");
    const html = await res.text();
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(html).not.toMatch(/\sstyle=/);
  });

  it('signs in with a pasted token (keyboard: type, Enter) and lists the app with its state', async () => {
    await page.goto(`${serve.url}/`);
    await page.locator('#token').waitFor();
    await shot('01-sign-in');
    await page.locator('#token').fill(token);
    await page.keyboard.press('Enter');
    const row = page.locator('table.apps tr[data-app="udp-counter"]');
    await row.waitFor();
    await expect.poll(() => row.locator('td').nth(1).textContent()).toBe('v3');
    await expect.poll(() => row.textContent(), { timeout: 15_000 }).toContain('in sync');
    expect(await page.locator('#who').textContent()).toContain('ui-tester · deployer');
    // The token went into the cookie exchange only: not in the page, not in storage.
    expect(await page.content()).not.toContain(token);
    expect(await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }))).toBe(
      '{}{}',
    );
    const cookies = await page.context().cookies();
    expect(cookies.find((c) => c.name === 'brr_session')).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
    await page.locator('#verify .badge').filter({ hasText: 'ledger verified' }).waitFor();
    // A deployer may verify now; the answer replaces the status.
    await page.getByRole('button', { name: 'Verify now' }).click();
    await expect.poll(() => page.locator('#announcer').textContent()).toBe('Ledger verified: intact');
    await shot('02-apps');
    // From here on nothing may reload the page: this marker would vanish.
    await page.evaluate(() => ((window as unknown as { brrMarker: string }).brrMarker = 'still here'));
  });

  it('opens the app: its release timeline names id, cause, actor, build and commit of each release', async () => {
    await page.locator('a', { hasText: 'udp-counter' }).click();
    await page.locator('tr[data-release="v1"]').waitFor();
    expect(await rows()).toEqual(['v3', 'v2', 'v1']);
    for (const [id, r] of releases) {
      const text = await page.locator(`tr[data-release="${id}"]`).textContent();
      expect(text).toContain(r.cause);
      expect(text).toContain(r.actor);
      expect(text).toContain(r.build.commit.slice(0, 7));
      expect(text).toContain(r.build.digest.slice(0, 'sha256:'.length + 12));
    }
    expect(await page.locator('tr[data-release="v3"]').textContent()).toContain('current');
    // The signer column: v2 names its key, the others are unsigned.
    expect(await page.locator('tr[data-release="v2"]').textContent()).toContain(signingKey.keyId);
    expect(await page.locator('tr[data-release="v1"]').textContent()).toContain('unsigned');
    // The live process table: the app's one process runs v3.
    await expect.poll(() => page.locator('table.procs tbody').textContent(), { timeout: 15_000 }).toContain('v3');
    // The log tail follows the app's output (its start-up line).
    await expect
      .poll(() => page.locator('pre.logs').textContent(), { timeout: 15_000 })
      .toMatch(/nf v3 pid \d+ serving/);
    await shot('03-app');
  });

  it('shows the diff of two picked releases; secret values never reach the page', async () => {
    await page.locator('#pick-v1').check();
    await page.locator('#pick-v3').check();
    await page.getByRole('button', { name: 'Compare selected' }).click();
    const diff = page.locator('section.diff');
    await diff.locator('table.diff-table').waitFor();
    expect(await diff.locator('h2').textContent()).toBe('Diff v1 → v3');
    expect(await diff.textContent()).toContain('config API_TOKEN');
    expect(await diff.textContent()).toContain('secret value changed (not shown)');
    expect(await diff.textContent()).toContain(`commit`);
    expect(await diff.locator('pre.diff-lines').textContent()).toMatch(/^v1 → v3/);
    expect(page.url()).toMatch(/#\/apps\/udp-counter\/diff\/v1\/v3$/);
    expect(await page.content()).not.toMatch(/s3cr3t/);
    await shot('04-diff');
  });

  it('the rollback dialog names what will run; Esc cancels it and focus returns', async () => {
    const button = page.locator('.actions button', { hasText: 'Roll back to v2' });
    await button.focus();
    await page.keyboard.press('Enter');
    const dialog = page.locator('dialog[open]');
    await dialog.waitFor();
    const v2 = releases.get('v2')!;
    const sentence = `Roll back udp-counter from v3 to v2: build ${v2.build.digest.slice(0, 19)}… (commit ${v2.build.commit.slice(0, 7)}), config of v2.`;
    expect(await dialog.locator('.what-runs').textContent()).toBe(sentence);
    await shot('05-rollback-dialog', false); // the viewport: the dialog's backdrop covers only that
    // Focus starts on Cancel and Tab stays inside the dialog.
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Cancel');
    for (let i = 0; i < 3; i++) {
      await page.keyboard.press('Tab');
      expect(await page.evaluate(() => !!document.activeElement?.closest('dialog'))).toBe(true);
    }
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Roll back to v2…');
    expect((await sb.json<ReleaseJson[]>(['releases'])).map((r) => r.id)).toEqual(['v3', 'v2', 'v1']);
  });

  it('confirming by keyboard rolls back: v4 appears in the timeline and runs, without a reload', async () => {
    await page.keyboard.press('Enter'); // focus is back on the rollback button
    const dialog = page.locator('dialog[open]');
    await dialog.waitFor();
    await page.keyboard.press('Tab'); // Cancel → "Roll back to v2"
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Roll back to v2');
    await page.keyboard.press('Enter');
    await page.locator('tr[data-release="v4"]').waitFor({ timeout: 60_000 });
    expect(await page.locator('tr[data-release="v4"]').textContent()).toContain('rollback to v2');
    expect(await page.locator('tr[data-release="v4"]').textContent()).toContain('ui-tester');
    expect(await rows()).toEqual(['v4', 'v3', 'v2', 'v1']);
    await expect.poll(() => page.locator('table.procs tbody').textContent(), { timeout: 30_000 }).toContain('v4');
    await expect
      .poll(() => page.locator('pre.logs').textContent(), { timeout: 30_000 })
      .toMatch(/nf v4 pid \d+ serving/);
    const cli = await sb.json<ReleaseJson[]>(['releases']);
    expect(cli[0]).toMatchObject({ id: 'v4', cause: 'rollback to v2', actor: 'ui-tester' });
    expect(await page.evaluate(() => (window as unknown as { brrMarker?: string }).brrMarker)).toBe('still here');
    expect(loads).toBe(1);
    await shot('06-after-rollback');
  });

  it('a release made elsewhere (the CLI) arrives through the event stream, without a reload', async () => {
    await sb.ok(['config', 'set', 'GREETING=live']);
    await page.locator('tr[data-release="v5"]').waitFor({ timeout: 30_000 });
    expect(await page.locator('tr[data-release="v5"]').textContent()).toContain('set GREETING');
    await expect.poll(() => page.locator('ol.activity').textContent(), { timeout: 15_000 }).toContain('new release v5');
    await expect.poll(() => page.locator('#announcer').textContent(), { timeout: 15_000 }).toMatch(/v5/);
    await expect.poll(() => page.locator('table.procs tbody').textContent(), { timeout: 30_000 }).toContain('v5');
    // Once v5 runs, the timeline marks it current (not only the header): no stale tag on v4.
    await expect.poll(() => page.locator('tr.is-current').getAttribute('data-release'), { timeout: 15_000 }).toBe('v5');
    expect(await page.locator('tr[data-release="v4"]').textContent()).not.toContain('current');
    expect(await page.evaluate(() => (window as unknown as { brrMarker?: string }).brrMarker)).toBe('still here');
    expect(loads).toBe(1);
    await shot('07-live-release');
  });

  it('signs out: the cookie no longer opens the API, and the sign-in form is back', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.locator('#token').waitFor();
    const res = await page.context().request.get(`${serve.url}/api/apps`);
    expect(res.status()).toBe(401);
    expect(problems).toEqual([]);
    expect(serve.output()).not.toContain(token);
    expect(serve.output()).not.toMatch(/s3cr3t/);
  });

  it('a viewer sees the same pages without the write controls', async () => {
    const viewer = (await sb.json<{ token: string }>(['tokens', 'create', 'ui-viewer', '--role', 'viewer'])).token;
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    try {
      const p = await context.newPage();
      await p.goto(`${serve.url}/#/apps/udp-counter`);
      await p.locator('#token').fill(viewer);
      await p.getByRole('button', { name: 'Sign in' }).click();
      await p.locator('tr[data-release="v5"]').waitFor();
      const rollback = p.locator('.actions button');
      await expect.poll(() => rollback.isDisabled()).toBe(true);
      expect(await p.locator('.actions').textContent()).toContain('Rolling back needs the deployer role.');
      expect(await p.locator('table.timeline button').count()).toBe(0);
      expect(await p.getByRole('button', { name: 'Verify now' }).count()).toBe(0);
      await p.screenshot({ path: path.join(SHOTS, '08-viewer.png') });
      // Revoking the token ends the open page's session: the next thing it asks gets 401 and the
      // sign-in form comes back (a release made by the CLI makes the page ask).
      await sb.ok(['tokens', 'revoke', 'ui-viewer']);
      await sb.ok(['config', 'set', 'GREETING=revoked', '--no-run']);
      await p.locator('#token').waitFor({ timeout: 30_000 });
      expect(await p.locator('#who').textContent()).toBe('');
    } finally {
      await context.close();
    }
  });

  it('pages the timeline: 50 releases, then "Older releases" loads the rest and focus lands on the first of them', async () => {
    // 48 more releases through the API itself (Bearer, no run): v7..v54.
    for (let i = 0; i < 48; i++) {
      const res = await fetch(`${serve.url}/api/apps/udp-counter/config`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ set: { PAGE_TEST: String(i) }, run: false }),
      });
      expect(res.status).toBe(200);
    }
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    try {
      const p = await context.newPage();
      await p.goto(`${serve.url}/#/apps/udp-counter`);
      await p.locator('#token').fill(token);
      await p.keyboard.press('Enter');
      await p.locator('tr[data-release="v54"]').waitFor();
      const ids = () =>
        p.locator('table.timeline tbody tr').evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-release')));
      expect(await ids()).toEqual(Array.from({ length: 50 }, (_, i) => `v${54 - i}`));
      const older = p.getByRole('button', { name: 'Older releases' });
      await older.focus();
      await p.keyboard.press('Enter');
      await p.locator('tr[data-release="v1"]').waitFor();
      expect(await ids()).toEqual(Array.from({ length: 54 }, (_, i) => `v${54 - i}`));
      expect(await older.isHidden()).toBe(true);
      expect(await p.evaluate(() => document.activeElement?.id)).toBe('pick-v4');
    } finally {
      await context.close();
    }
  });
});
