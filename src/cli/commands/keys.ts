/** `brr keys`, `brr sign` and `brr trust`: flags and output only; the verbs are app/keys.ts, app/sign-release.ts and app/trust.ts. */
import type { Command } from 'commander';
import { generateKeyFile, listKeys } from '../../app/keys.js';
import { signExisting } from '../../app/sign-release.js';
import { listTrustedKeys, trustKey, untrustKey, type TrustedKey } from '../../app/trust.js';
import { appOf, homeOf, settingsOf, withCommon, withContext, type CommonOpts } from '../common.js';
import { dim, out, printJson, table } from '../output.js';

/**
 * `brr keys generate|list`, `brr sign vN`, `brr trust add|remove|list`, and the global
 * `--signing-key FILE` (declared in cli/main.ts so every command has it without loading this
 * module; the hook there copies it onto the command's own options).
 */
export function registerKeyCommands(program: Command): void {
  const keys = program.command('keys').description('Ed25519 signing keys for releases');
  keys
    .command('generate')
    .description('create a signing key pair; the private key is written 0600 and never stored in the ledger')
    .option('--home <dir>', 'brr home (default $BRR_HOME or ~/.local/share/brr)')
    .option('--out <file>', 'where to write the private key (default <home>/keys/ed25519-<id>.pem)')
    .option('--json', 'print machine-readable JSON on stdout')
    .action((opts: { home?: string; out?: string; json?: boolean }) => {
      const key = generateKeyFile(homeOf(opts), opts.out);
      const file = key.file;
      if (opts.json) return printJson(key);
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
      const rows = listKeys(homeOf(opts), settingsOf(opts).signingKeyFile);
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
    const r = await withContext(opts, (ctx) => signExisting(ctx, app, id));
    if (opts.json) return printJson(r);
    out(r.signed ? `${app} ${r.release} signed by ${r.keyId}` : `${app} ${r.release} was already signed by ${r.keyId}`);
  });

  const trust = program
    .command('trust')
    .description('the keys an app trusts: with any, the run stage refuses releases they did not sign');
  const printPolicy = (app: string, policy: TrustedKey[], json: boolean | undefined, changed?: boolean) => {
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
    const r = await withContext(opts, (ctx) => trustKey(ctx, app, key));
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
    const r = await withContext(opts, (ctx) => untrustKey(ctx, app, keyId));
    if (!opts.json) out(`${app} no longer trusts ${keyId}`);
    printPolicy(app, r.policy, opts.json, r.changed);
  });
  withCommon(trust.command('list', { isDefault: true }).description("the app's trusted keys")).action(
    async (opts: CommonOpts) => {
      const app = appOf(opts);
      const policy = await withContext(opts, (ctx) => listTrustedKeys(ctx, app));
      printPolicy(app, policy, opts.json);
    },
  );
}
