/** `brr apps`, `brr apps set` and `brr render`: flags and output only; the verbs are app/app-target.ts and app/kubernetes-render.ts. */
import type { Command } from 'commander';
import { listAppTargets, planTarget, setAppTarget, type AppTarget, type TargetFlags } from '../../app/app-target.js';
import { defaultKubernetesDeps, renderedYaml, renderForApp, writeRender } from '../../app/kubernetes-render.js';
import { invalidInput } from '../../core/errors.js';
import { appOf, withCommon, withContext, type CommonOpts } from '../common.js';
import { dim, out, printJson, table, warn } from '../output.js';

/** One line per target, for `brr apps` and `brr apps set`. */
function describeTarget(t: AppTarget): string {
  if (t.target === 'local') return 'local';
  return `kubernetes context=${t.context} namespace=${t.namespace} registry=${t.registry}${t.kubeconfig ? ` kubeconfig=${t.kubeconfig}` : ''}`;
}

/** `brr apps`, `brr apps set` and `brr render`. The lead registers this in main.ts. */
export function registerKubernetesCommands(program: Command): void {
  const apps = withCommon(
    program.command('apps').description('apps in the ledger, where each runs (target) and its current release'),
    true,
  ).action(async (opts: CommonOpts) => {
    const rows = await withContext(opts, (ctx) => listAppTargets(ctx));
    if (opts.json) return printJson(rows);
    if (rows.length === 0) return out('no apps yet: `brr release` or `brr apps set` records one');
    table(
      ['APP', 'CURRENT', 'TARGET'],
      rows.map((r) => [r.app, r.current ?? '-', describeTarget(r.target)]),
    ).forEach((l) => out(l));
  });

  // --home, --app and --json belong to `apps` (commander gives a parent's options precedence), so
  // `set` reads them through optsWithGlobals.
  apps
    .command('set')
    .argument('[app]', 'the app (default --app, $BRR_APP or app: in ./brr.yaml)')
    .description('choose where an app runs: the local supervisor or a Kubernetes cluster')
    .option('--target <target>', 'local or kubernetes', 'kubernetes')
    .option('--context <name>', 'kubeconfig context of the cluster')
    .option('--namespace <ns>', 'namespace the app lives in (must exist)')
    .option('--registry <host/path>', "registry the app's images are pushed to; images are <registry>/<app>@sha256:…")
    .option('--kubeconfig <file>', 'kubeconfig file (default $KUBECONFIG, then ~/.kube/config)')
    .action(async (appArg: string | undefined, _local: TargetFlags, cmd: Command) => {
      const opts = cmd.optsWithGlobals<CommonOpts & TargetFlags>();
      const app = appOf({ ...opts, app: appArg ?? opts.app });
      const target = planTarget(opts);
      const r = await withContext(opts, (ctx) => setAppTarget(ctx, app, target));
      if (opts.json) return printJson({ app, ...r });
      out(`${app} runs on ${describeTarget(r.target)}${r.changed ? '' : dim(' (unchanged)', process.stdout)}`);
    });

  withCommon(
    program
      .command('render')
      .argument('[release]', 'release id (default: the newest release)')
      .description("write a release's Kubernetes objects as YAML (for GitOps tools)"),
  )
    .option('--out <dir>', 'write one file per object into DIR (default: one multi-document stream on stdout)')
    .option(
      '--include-secrets',
      'write secret values into the Secret (default: a placeholder with the keys and empty values)',
    )
    .option('--namespace <ns>', "namespace (default: the app's Kubernetes target)")
    .option('--registry <host/path>', "registry (default: the app's Kubernetes target)")
    .option(
      '--cnf-testsuite',
      'with --out: the manifests go to DIR/manifests and the CNTi test suite config to DIR/cnf-testsuite.yml',
    )
    .action(
      async (
        id: string | undefined,
        opts: CommonOpts & {
          out?: string;
          includeSecrets?: boolean;
          namespace?: string;
          registry?: string;
          cnfTestsuite?: boolean;
        },
      ) => {
        const app = appOf(opts);
        if (opts.cnfTestsuite && !opts.out)
          throw invalidInput(
            'render_out_missing',
            '--cnf-testsuite writes a directory: give --out DIR',
            `brr render --cnf-testsuite --out ${app}-cnf`,
          );
        const r = await withContext(opts, (ctx) =>
          renderForApp(ctx, defaultKubernetesDeps(ctx), app, {
            release: id,
            namespace: opts.namespace,
            registry: opts.registry,
            includeSecrets: opts.includeSecrets,
            cnfTestsuite: opts.cnfTestsuite,
          }),
        );
        for (const w of r.warnings) warn(w);
        if (!opts.out) {
          if (opts.json) return printJson({ app, release: r.release, objects: r.objects, warnings: r.warnings });
          process.stdout.write(renderedYaml(r.objects));
          return;
        }
        const files = writeRender(r, opts.out);
        if (opts.json) return printJson({ app, release: r.release, files, warnings: r.warnings });
        for (const f of files) out(f);
      },
    );
}
