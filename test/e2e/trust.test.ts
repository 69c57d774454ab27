import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSigningKey, loadSigner, signReleaseHash } from '../../src/release/signing.js';
import { openSqliteLedger } from '../../src/ledger/sqlite/ledger.js';
import { Sandbox, type CliResult } from './harness.js';

/** Served by the sample NF as its greeting, so the test sees it arrive decrypted at run time. */
const SECRET = 'hi-from-the-vault-7f3a9c';

interface Verify {
  ok: boolean;
  problems: Array<{ app: string; kind: string; seq: number; problem: string }>;
  signers: Array<{ release: string; signer: string; trusted: boolean | null }>;
}

describe('signatures, trust and encrypted secrets through the real CLI', () => {
  let sb: Sandbox;
  const outputs: CliResult[] = [];
  let keyA: { keyId: string; publicKey: string; file: string };
  const run = async (args: string[], env?: Record<string, string>): Promise<CliResult> => {
    const r = await sb.brr(args, { env });
    outputs.push(r);
    return r;
  };
  const ok = async (args: string[], env?: Record<string, string>): Promise<CliResult> => {
    const r = await run(args, env);
    if (r.code !== 0) throw new Error(`brr ${args.join(' ')} exited ${r.code}\n${r.stdout}\n${r.stderr}`);
    return r;
  };
  const json = async <T>(args: string[]): Promise<T> => JSON.parse((await ok([...args, '--json'])).stdout) as T;

  beforeAll(async () => {
    sb = await Sandbox.create();
    await ok(['build']);
    keyA = await json(['keys', 'generate']);
  });
  afterAll(async () => {
    await sb.cleanup();
  });

  it('generates a key 0600 in the home and refuses to overwrite it', async () => {
    expect(keyA.keyId).toMatch(/^ed25519:[0-9a-f]{16}$/);
    expect(keyA.file.startsWith(path.join(sb.home, 'keys'))).toBe(true);
    expect(statSync(keyA.file).mode & 0o777).toBe(0o600);
    const again = await run(['keys', 'generate', '--out', keyA.file]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('already exists');
    expect((await json<Array<{ keyId: string }>>(['keys', 'list'])).map((k) => k.keyId)).toEqual([keyA.keyId]);
  });

  it('refuses --secret without a secrets key, naming BRR_SECRETS_KEY', async () => {
    const r = await run(['config', 'set', `GREETING=${SECRET}`, '--secret'], { BRR_SECRETS_KEY: '' });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('BRR_SECRETS_KEY');
  });

  it('signs every release made with --signing-key; verify names each signer', async () => {
    await ok(['config', 'set', `GREETING=${SECRET}`, '--secret']);
    await ok(['release', '--signing-key', keyA.file]); // v1, signed
    await ok(['run']);
    expect(JSON.parse((await sb.get('/')).body)).toMatchObject({ greeting: SECRET, release: 'v1' }); // decrypted at run time
    expect((await ok(['config', 'set', `GREETING=${SECRET}`])).stdout).toContain('no change'); // deterministic sealing
    await ok(['config', 'set', 'LEVEL=debug', '--no-run']); // v2, unsigned
    const v = await ok(['verify']);
    expect(v.stdout).toContain('ledger intact');
    expect(v.stdout).toMatch(new RegExp(`udp-counter\\s+v1\\s+${keyA.keyId}`));
    expect(v.stdout).toMatch(/udp-counter\s+v2\s+unsigned/);
    const vj = await json<Verify>(['verify']);
    expect(vj.signers.map((s) => [s.release, s.signer, s.trusted])).toEqual([
      ['v1', keyA.keyId, null],
      ['v2', 'unsigned', null],
    ]);
  });

  it('with a trust policy, the run stage refuses an unsigned release and the old one keeps answering', async () => {
    await ok(['trust', 'add', keyA.publicKey]);
    const r = await run(['run', 'v2']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('v2 is not signed by a trusted key (unsigned)');
    expect(JSON.parse((await sb.get('/')).body)).toMatchObject({ release: 'v1' });
    expect((await json<Array<{ release: string }>>(['ps'])).map((p) => p.release)).toEqual(['v1']);
    expect((await ok(['sign', 'v2', '--signing-key', keyA.file])).stdout).toContain(`v2 signed by ${keyA.keyId}`);
    await ok(['run', 'v2']);
    expect(JSON.parse((await sb.get('/')).body)).toMatchObject({ greeting: SECRET, release: 'v2' });
    expect((await json<Verify>(['verify'])).signers.map((s) => s.trusted)).toEqual([true, true]);
  });

  it('a forged signature claiming the trusted key neither verifies nor runs', async () => {
    await ok(['config', 'set', 'LEVEL=info', '--no-run']); // v3, unsigned
    const mallory = loadSigner(generateSigningKey().privatePem, 'mallory.pem');
    const ledger = openSqliteLedger(path.join(sb.home, 'ledger.db'));
    try {
      const v3 = (await ledger.getRelease('udp-counter', 'v3'))!;
      const forged = { ...signReleaseHash(mallory, v3), keyId: keyA.keyId, publicKey: keyA.publicKey };
      await ledger.appendEvent('udp-counter', {
        type: 'signed',
        release: 'v3',
        detail: forged,
        actor: 'mallory@e2e',
        createdAt: new Date().toISOString(),
      });
    } finally {
      await ledger.close();
    }
    const v = await run(['verify']);
    expect(v.code).toBe(1);
    expect(v.stdout).toMatch(/TAMPERED: udp-counter event #\d+: v3: signature by ed25519:\w+ does not verify/);
    expect(v.stdout).toMatch(/udp-counter\s+v3\s+unsigned\s+NOT TRUSTED/);
    expect(v.stderr).toContain('hint:');
    const r = await run(['run', 'v3']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('v3 is not signed by a trusted key');
    expect(JSON.parse((await sb.get('/')).body)).toMatchObject({ release: 'v2' });
  });

  it('lowering trust needs a signature by a trusted key; an unsigned change written behind brr is ignored', async () => {
    const r = await run(['trust', 'remove', keyA.keyId]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('needs a signature by a key it trusts');
    const other = await json<{ file: string }>(['keys', 'generate']);
    expect((await run(['trust', 'remove', keyA.keyId, '--signing-key', other.file])).code).toBe(2);
    // Someone with write access to ledger.db but not the key appends the removal themselves.
    const ledger = openSqliteLedger(path.join(sb.home, 'ledger.db'));
    try {
      await ledger.appendEvent('udp-counter', {
        type: 'trust-changed',
        release: null,
        detail: { remove: [keyA.keyId] },
        actor: 'mallory@e2e',
        createdAt: new Date().toISOString(),
      });
    } finally {
      await ledger.close();
    }
    expect((await json<{ trusted: Array<{ keyId: string }> }>(['trust', 'list'])).trusted.map((k) => k.keyId)).toEqual([
      keyA.keyId,
    ]);
    expect((await run(['run', 'v3'])).code).toBe(1); // still refused: unsigned
    expect((await run(['verify'])).stdout).toMatch(/TAMPERED: udp-counter event #\d+: trust change is not signed/);
  });

  it('the secret never appears in the ledger file, the home, or any CLI output', async () => {
    await ok(['show', 'v2']);
    await ok(['diff', 'v1', 'v3', '--json']);
    await ok(['releases', '--json']);
    await ok(['config']);
    for (const r of outputs) {
      expect(r.stdout).not.toContain(SECRET);
      expect(r.stderr).not.toContain(SECRET);
    }
    // The app's own output (it prints its greeting) and its release files are the app's business.
    const appOwned = [path.join(sb.home, 'releases'), path.join(sb.home, 'logs', 'udp-counter')];
    const files = listFiles(sb.home).filter((f) => !appOwned.some((d) => f.startsWith(d + path.sep)));
    expect(files).toContain(path.join(sb.home, 'logs', 'supervisor.log'));
    expect(files).toContain(path.join(sb.home, 'ledger.db'));
    for (const f of files) expect(readFileSync(f).includes(Buffer.from(SECRET)), f).toBe(false);
  });
});

function listFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return listFiles(p);
    return e.isFile() ? [p] : [];
  });
}
