/**
 * `brr serve` (the operator console: HTTP API and dashboard) and `brr tokens create|list|revoke`
 * (who may call it): flags and output only. Tokens are app/tokens.ts; the server is serve/.
 */
import type { Command } from 'commander';
import { createToken, listTokens, revokeToken } from '../../app/tokens.js';
import { systemClock } from '../../core/clock.js';
import { homeOf, settingsOf, type CommonOpts } from '../common.js';
import { dim, info, out, printJson, table } from '../output.js';

const HOME_FLAG = ['--home <dir>', 'brr home (default $BRR_HOME or ~/.local/share/brr)'] as const;

export function registerServeCommands(program: Command): void {
  const tokens = program.command('tokens').description('API tokens of the operator console (`brr serve`)');
  tokens
    .command('create')
    .argument('<name>', 'token name, recorded as the actor of every write made with it (e.g. ci-deployer)')
    .requiredOption('--role <role>', 'viewer (reads), deployer (also runs, rolls back, changes config) or admin')
    .option(...HOME_FLAG)
    .option('--json', 'print machine-readable JSON on stdout')
    .description('create a token and print it once; only its sha256 is stored')
    .action((name: string, opts: CommonOpts & { role: string }) => {
      const ctx = { paths: homeOf(opts), actor: settingsOf(opts).actor, clock: systemClock };
      const t = createToken(ctx, name, opts.role);
      if (opts.json) return printJson(t);
      out(t.token);
      info(dim(`token ${t.name} (${t.role}) created; it is shown only now: store it in a password manager`));
    });
  tokens
    .command('list', { isDefault: true })
    .option(...HOME_FLAG)
    .option('--json', 'print machine-readable JSON on stdout')
    .description('token names and roles (never the tokens)')
    .action((opts: CommonOpts) => {
      const rows = listTokens({ paths: homeOf(opts) });
      if (opts.json) return printJson(rows);
      if (rows.length === 0) return out('no tokens: create one with `brr tokens create NAME --role viewer`');
      table(
        ['NAME', 'ROLE', 'CREATED', 'BY'],
        rows.map((t) => [t.name, t.role, t.createdAt, t.createdBy]),
      ).forEach((l) => out(l));
    });
  tokens
    .command('revoke')
    .argument('<name>', 'token name')
    .option(...HOME_FLAG)
    .option('--json', 'print machine-readable JSON on stdout')
    .description('revoke a token: a running server refuses it (and ends its sessions) at the next request')
    .action((name: string, opts: CommonOpts) => {
      const t = revokeToken({ paths: homeOf(opts) }, name);
      if (opts.json) return printJson({ revoked: t.name, role: t.role });
      out(`revoked ${t.name} (${t.role})`);
    });

  program
    .command('serve')
    .description('the operator console: JSON API, live events and the dashboard, on the same home and ledger')
    .option('--listen <host:port>', 'address to listen on (a port of 0 picks a free one)', '127.0.0.1:7777')
    .option('--tls-cert <file>', 'PEM certificate (chain): serve HTTPS')
    .option('--tls-key <file>', 'PEM private key of --tls-cert')
    .option('--insecure-http', 'allow plain HTTP on a non-loopback address (tokens then cross the network in clear)')
    .option('--metrics-public', 'serve /metrics without a token')
    .option(...HOME_FLAG)
    .option(
      '--ledger <url>',
      'shared PostgreSQL ledger postgres://… (default $BRR_LEDGER_URL, else ledger.db in the home)',
    )
    .action(
      async (
        opts: CommonOpts & {
          listen: string;
          tlsCert?: string;
          tlsKey?: string;
          insecureHttp?: boolean;
          metricsPublic?: boolean;
        },
      ) => {
        // Loaded only here: `brr tokens` and every other command never pay for the server.
        const { serveConsole } = await import('../../serve/serve.js');
        const ac = new AbortController();
        const stop = () => ac.abort();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
        try {
          await serveConsole({
            settings: settingsOf(opts),
            listen: opts.listen,
            tlsCert: opts.tlsCert,
            tlsKey: opts.tlsKey,
            insecureHttp: opts.insecureHttp ?? false,
            metricsPublic: opts.metricsPublic ?? false,
            signal: ac.signal,
            onListening: (url) => out(url),
            log: (line) => info(line),
          });
        } finally {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
        }
      },
    );
}
