import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, statSync, writeSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { signExisting } from '../../app/sign-release.js';
import { conflict, invalidInput } from '../../core/errors.js';
import { homePaths, resolveHome } from '../../core/home.js';
import { parseReleaseId } from '../../release/plan.js';
import { generateSigningKey, loadSigner, parsePublicKey } from '../../release/signing.js';
import { changeTrust, trustPolicy } from '../../release/trust.js';
import { appOf, withCommon, withContext, type CommonOpts } from '../common.js';
import { dim, out, printJson, table } from '../output.js';

/** Where `brr keys generate` puts private keys by default: private to the user, like the home. */
function keysDir(home: string | undefined): string {
  return path.join(homePaths(resolveHome(home)).root, 'keys');
}

/** Writes a private key 0600, refusing to overwrite: replacing a key silently orphans its signatures. */
function writePrivateKey(file: string, pem: string): void {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  let fd: number;
  try {
    fd = openSync(file, 'wx', 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST')
      throw conflict(
        'key_exists',
        `${file} already exists; brr never overwrites a key`,
        'choose another --out FILE, or remove the old key yourself if it is truly unused',
      );
    throw e;
  }
  try {
    writeSync(fd, pem);
  } finally {
    closeSync(fd);
  }
}

/**
 * `trust add` takes a key or a file holding one (PEM or base64). Base64 may contain '/', so a
 * missing file is only assumed when the argument is no key and looks like a file name.
 */
function readKeyArgument(arg: string): string {
  if (existsSync(arg) && statSync(arg).isFile()) return readFileSync(arg, 'utf8');
  try {
    parsePublicKey(arg);
  } catch (e) {
    if (/\.(pem|pub|key)$/.test(arg) || arg.startsWith('./') || arg.startsWith('../')) {
      throw invalidInput(
        'public_key_file_missing',
        `no such key file: ${arg}`,
        'pass a PEM file or the base64 public key `brr keys list` prints',
      );
    }
    throw e;
  }
  return arg;
}

/**
 * `brr keys generate|list`, `brr sign vN`, `brr trust add|remove|list`, and the global
 * `--signing-key FILE` (any command that creates releases signs them with it; the hook turns it
 * into BRR_SIGNING_KEY so use-cases read one setting, whichever way it was given).
 */
export function registerKeyCommands(program: Command): void {
  program.option(
    '--signing-key <file>',
    'sign every release this command creates with this Ed25519 key (default $BRR_SIGNING_KEY)',
  );
  program.hook('preAction', (root) => {
    const file = (root.opts() as { signingKey?: string }).signingKey;
    if (file) process.env.BRR_SIGNING_KEY = path.resolve(file);
  });

  const keys = program.command('keys').description('Ed25519 signing keys for releases');
  keys
    .command('generate')
    .description('create a signing key pair; the private key is written 0600 and never stored in the ledger')
    .option('--home <dir>', 'brr home (default $BRR_HOME or ~/.local/share/brr)')
    .option('--out <file>', 'where to write the private key (default <home>/keys/ed25519-<id>.pem)')
    .option('--json', 'print machine-readable JSON on stdout')
    .action((opts: { home?: string; out?: string; json?: boolean }) => {
      const key = generateSigningKey();
      const file = path.resolve(opts.out ?? path.join(keysDir(opts.home), `${key.keyId.replace(':', '-')}.pem`));
      writePrivateKey(file, key.privatePem);
      if (opts.json) return printJson({ keyId: key.keyId, publicKey: key.publicKey, file });
      out(`key id      ${key.keyId}`);
      out(`public key  ${key.publicKey}`);
      out(`private key ${file}`);
      out(
        dim(
          `sign with: BRR_SIGNING_KEY=${file} (or --signing-key); trust with: brr trust add --app APP ${key.publicKey}`,
          process.stdout,
        ),
      );
    });
  keys
    .command('list')
    .description('signing keys in <home>/keys (and the configured one)')
    .option('--home <dir>', 'brr home (default $BRR_HOME or ~/.local/share/brr)')
    .option('--json', 'print machine-readable JSON on stdout')
    .action((opts: { home?: string; json?: boolean }) => {
      const dir = keysDir(opts.home);
      const files = existsSync(dir)
        ? readdirSync(dir)
            .filter((f) => f.endsWith('.pem'))
            .sort()
            .map((f) => path.join(dir, f))
        : [];
      const configured = process.env.BRR_SIGNING_KEY ? path.resolve(process.env.BRR_SIGNING_KEY) : null;
      if (configured && !files.includes(configured)) files.push(configured);
      const rows = files.map((file) => {
        try {
          const s = loadSigner(readFileSync(file, 'utf8'), file);
          return { keyId: s.keyId, publicKey: s.publicKey, file, configured: file === configured, problem: null };
        } catch (e) {
          return {
            keyId: null,
            publicKey: null,
            file,
            configured: file === configured,
            problem: e instanceof Error ? e.message : String(e),
          };
        }
      });
      if (opts.json) return printJson(rows);
      if (rows.length === 0) return out('no signing keys: create one with `brr keys generate`');
      table(
        ['KEY ID', 'PUBLIC KEY', 'FILE'],
        rows.map((r) => [
          r.keyId ?? '-',
          r.publicKey ?? r.problem ?? '-',
          `${r.file}${r.configured ? ' (configured)' : ''}`,
        ]),
      ).forEach((l) => out(l));
    });

  withCommon(
    program
      .command('sign')
      .argument('[release]', 'release id (default: the newest release)')
      .description('sign an existing release with the configured key (--signing-key or $BRR_SIGNING_KEY)'),
  ).action(async (id: string | undefined, opts: CommonOpts) => {
    const app = appOf(opts);
    const r = await withContext(opts, (ctx) =>
      signExisting(ctx, app, id === undefined ? undefined : parseReleaseId(id)),
    );
    if (opts.json) return printJson(r);
    out(r.signed ? `${app} ${r.release} signed by ${r.keyId}` : `${app} ${r.release} was already signed by ${r.keyId}`);
  });

  const trust = program
    .command('trust')
    .description('the keys an app trusts: with any, the run stage refuses releases they did not sign');
  const printPolicy = (
    app: string,
    policy: ReturnType<typeof trustPolicy>,
    json: boolean | undefined,
    changed?: boolean,
  ) => {
    if (json) return printJson({ app, ...(changed === undefined ? {} : { changed }), trusted: policy });
    if (policy.length === 0) return out(`${app} trusts no keys: every release may run (signed or not)`);
    table(
      ['KEY ID', 'PUBLIC KEY', 'ADDED BY', 'ADDED'],
      policy.map((k) => [k.keyId, k.publicKey, k.addedBy, k.addedAt]),
    ).forEach((l) => out(l));
  };
  withCommon(
    trust
      .command('add')
      .argument('<key>', 'public key (base64 raw or SPKI DER) or a PEM file')
      .description('trust a signing key for the app'),
  ).action(async (key: string, opts: CommonOpts) => {
    const app = appOf(opts);
    const r = await withContext(opts, (ctx) => changeTrust(ctx, app, { add: readKeyArgument(key) }));
    if (!opts.json) out(r.changed ? `${app} now trusts:` : `no change: ${app} already trusts that key`);
    printPolicy(app, r.policy, opts.json, r.changed);
  });
  withCommon(
    trust
      .command('remove')
      .argument('<keyId>', 'key id, e.g. ed25519:0123456789abcdef')
      .description('stop trusting a key (releases it signed are refused unless another trusted key signed them)'),
  ).action(async (keyId: string, opts: CommonOpts) => {
    const app = appOf(opts);
    const r = await withContext(opts, (ctx) => changeTrust(ctx, app, { remove: keyId }));
    if (!opts.json) out(`${app} no longer trusts ${keyId}`);
    printPolicy(app, r.policy, opts.json, r.changed);
  });
  withCommon(trust.command('list', { isDefault: true }).description("the app's trusted keys")).action(
    async (opts: CommonOpts) => {
      const app = appOf(opts);
      const policy = await withContext(opts, async (ctx) => trustPolicy(await ctx.ledger.listEvents(app)));
      printPolicy(app, policy, opts.json);
    },
  );
}
