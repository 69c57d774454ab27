import { accessSync, constants } from 'node:fs';
import type { Browser } from 'playwright-core';

/**
 * The real browser for the dashboard's end-to-end test and bench: Debian's chromium, driven by
 * playwright-core (which ships no browser of its own). Headless, and quiet: no sandbox (tests
 * may run as root), no GPU, no background downloads or sync, no first-run UI.
 */
export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/**
 * Null when chromium can run here; else a visible skip reason. With BRR_REQUIRE_TOOLS=1 (CI) a
 * missing browser is a failure, as for every other tool (see tools.ts).
 */
export function missingChromium(): string | null {
  try {
    accessSync(CHROMIUM, constants.X_OK);
    return null;
  } catch {
    if (process.env.BRR_REQUIRE_TOOLS === '1') {
      throw new Error(`${CHROMIUM} is required (BRR_REQUIRE_TOOLS=1) but not installed: apt-get install -y chromium`);
    }
    const reason = `${CHROMIUM} not installed (apt-get install -y chromium); skipping`;
    process.stderr.write(`SKIP: ${reason}\n`);
    return reason;
  }
}

/** Starts headless chromium; close it in afterAll. */
export async function launchChromium(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
}
