/**
 * `brr hooks add|list|remove|deliveries|deliver`: flags and output only; the verbs are in
 * app/hooks/ (store.ts, deliveries.ts, dispatch.ts). A secret is printed once, by `add`, and only
 * when brr generated it; `list` and `deliveries` never show one.
 */
import type { Command } from 'commander';
import { addHook, listHooks, readSecretFile, removeHook } from '../../app/hooks/store.js';
import { readDeliveries } from '../../app/hooks/deliveries.js';
import { homeOf, positiveInt, withContext, type CommonOpts } from '../common.js';
import { dim, info, out, printJson, table, warn } from '../output.js';

interface HookOpts extends CommonOpts {
  events?: string;
  secretFile?: string;
  hook?: string;
  n?: number;
}

const home = (opts: CommonOpts) => homeOf(opts).root;

function withHome(cmd: Command): Command {
  return cmd
    .option('--home <dir>', 'brr home (default $BRR_HOME or ~/.local/share/brr)')
    .option('--json', 'print machine-readable JSON on stdout');
}

export function registerHooksCommands(program: Command): void {
  const hooks = program
    .command('hooks')
    .description('webhooks: signed JSON payloads POSTed on releases, runs, rollbacks and failures');

  withHome(
    hooks
      .command('add')
      .argument('<url>', 'http:// or https:// URL the payloads are POSTed to')
      .description('add a webhook; it is told of what happens from now on (never of the past)')
      .option('--events <list>', 'comma-separated: release, run, rollback, failure (default all)')
      .option('--secret-file <file>', 'file holding the HMAC secret (default: a new random one, printed once)')
      .option(
        '--ledger <url>',
        'shared PostgreSQL ledger postgres://… (default $BRR_LEDGER_URL, else ledger.db in the home)',
      ),
  ).action(async (url: string, opts: HookOpts) => {
    const secret = opts.secretFile ? readSecretFile(opts.secretFile) : undefined;
    const h = await withContext(opts, (ctx) => addHook(ctx, { url, events: opts.events, secret }));
    if (h.warning) warn(h.warning);
    if (opts.json) return printJson(h);
    out(`added ${h.id}: ${h.url} (${h.events.join(', ')})`);
    if (h.secret) {
      out(`secret ${h.secret}`);
      info(dim('the secret is shown this once: keep it where the receiver verifies X-Brr-Signature', process.stderr));
    }
  });

  withHome(
    hooks.command('list', { isDefault: true }).description('the webhooks of this home (secrets are never shown)'),
  ).action((opts: HookOpts) => {
    const rows = listHooks(home(opts));
    if (opts.json) return printJson(rows);
    if (rows.length === 0) return out('no webhooks: add one with `brr hooks add URL`');
    table(
      ['ID', 'URL', 'EVENTS', 'ADDED BY', 'ADDED'],
      rows.map((h) => [h.id, h.url, h.events.join(','), h.createdBy, h.createdAt]),
    ).forEach((l) => out(l));
  });

  withHome(hooks.command('remove').argument('<id>', 'hook id (brr hooks list)').description('remove a webhook')).action(
    (id: string, opts: HookOpts) => {
      const h = removeHook(home(opts), id);
      if (opts.json) return printJson({ removed: h });
      out(`removed ${h.id} (${h.url}); its pending deliveries are dropped`);
    },
  );

  withHome(
    hooks
      .command('deliveries')
      .description('the delivery log: one line per attempt, oldest first')
      .option('--hook <id>', 'only this hook')
      .option('-n <count>', 'how many attempts (default 20)', (v: string) => positiveInt(v, '-n')),
  ).action((opts: HookOpts) => {
    const rows = readDeliveries(home(opts), { hook: opts.hook, n: opts.n });
    if (opts.json) return printJson(rows);
    if (rows.length === 0) return out('no deliveries yet');
    table(
      ['AT', 'HOOK', 'DELIVERY', 'EVENT', 'ATTEMPT', 'STATUS', 'HTTP', 'ERROR', 'MS'],
      rows.map((r) => [
        r.at,
        r.hook,
        r.delivery,
        r.event,
        String(r.attempt),
        r.status === 'retrying' && r.nextAttemptAt ? `retrying at ${r.nextAttemptAt}` : r.status,
        r.httpStatus === null ? '-' : String(r.httpStatus),
        r.error ?? '-',
        String(r.durationMs),
      ]),
    ).forEach((l) => out(l));
  });

  withHome(
    hooks
      .command('deliver')
      .description('one delivery pass in the foreground (for cron, or where no supervisor runs)')
      .option(
        '--ledger <url>',
        'shared PostgreSQL ledger postgres://… (default $BRR_LEDGER_URL, else ledger.db in the home)',
      ),
  ).action(async (opts: HookOpts) => {
    const { deliverOnce } = await import('../../app/hooks/dispatch.js');
    const r = await withContext(opts, (ctx) => deliverOnce(ctx, (l) => info(dim(l, process.stderr))));
    if (opts.json) return printJson(r);
    if (!r.ran) return out('another process (the supervisor or brr serve) is dispatching the webhooks of this home');
    out(
      `queued ${r.queued}, delivered ${r.delivered}, retrying ${r.retrying}, failed ${r.failed}; ${r.pending} pending for a later pass`,
    );
  });
}
