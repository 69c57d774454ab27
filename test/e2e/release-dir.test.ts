import { chmodSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Sandbox } from './harness.js';

/**
 * Issue 11 item 4 through the real CLI: a release directory changed behind brr's back is not
 * what runs. The edited code would throw at start; brr materializes the release again from the
 * verified build instead, and keeps the edited copy aside for a human to look at.
 */
describe('an edited release directory through the CLI', () => {
  let sb: Sandbox;
  beforeAll(async () => {
    sb = await Sandbox.create();
    await sb.ok(['build']);
    await sb.ok(['release']);
    await sb.ok(['run']);
  });
  afterAll(async () => {
    await sb.brr(['shutdown']);
    await sb.cleanup();
  });

  it('runs the build, not the edit', async () => {
    const appDir = path.join(sb.home, 'releases', 'udp-counter');
    const file = path.join(appDir, 'v1', 'nf.mjs');
    const original = readFileSync(file, 'utf8');
    await sb.ok(['shutdown']);
    await new Promise((r) => setTimeout(r, 25)); // past the file system's clock tick, as any real edit is
    chmodSync(file, 0o644);
    writeFileSync(file, `throw new Error('edited code ran');\n${original}`);
    chmodSync(file, 0o444);
    await sb.ok(['run', 'v1']);
    expect(JSON.parse((await sb.get('/')).body)).toMatchObject({ release: 'v1' });
    expect(readFileSync(file, 'utf8')).toBe(original);
    const aside = readdirSync(appDir).filter((n) => n.startsWith('.tampered-v1-'));
    expect(aside).toHaveLength(1);
    expect(readFileSync(path.join(appDir, aside[0]!, 'nf.mjs'), 'utf8')).toContain('edited code ran');
  });
});
