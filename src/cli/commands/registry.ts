/** `brr push` and `brr pull`: builds to and from OCI registries. Flags only; the verbs are in app/registry.ts. */
import type { Command } from 'commander';
import { pullImage, pushAppBuild } from '../../app/registry.js';
import { appOf, homeOf, namedAppOf, withCommon, type CommonOpts } from '../common.js';
import { dim, humanBytes, info, out, printJson } from '../output.js';

interface PushOpts extends CommonOpts {
  to: string;
  insecure?: boolean;
}

interface PullOpts extends CommonOpts {
  platform?: string;
  insecure?: boolean;
}

const INSECURE = 'allow plain HTTP to a registry that is not on a loopback address';

export function registerRegistryCommands(program: Command): void {
  withCommon(
    program
      .command('push')
      .argument('[build]', 'build digest or prefix (default: the newest build of the app)')
      .description('push a build to an OCI registry (blobs it lacks, then the manifest)'),
  )
    .requiredOption('--to <ref>', 'REGISTRY/REPO[:TAG], e.g. registry.example.com/team/upf:v1')
    .option('--insecure', INSECURE)
    .action(async (build: string | undefined, opts: PushOpts) => {
      const paths = homeOf(opts);
      const r = await pushAppBuild(paths, {
        build,
        app: build ? opts.app : appOf(opts),
        to: opts.to,
        insecure: opts.insecure,
        onProgress: opts.json ? undefined : (l) => info(dim(l)),
      });
      if (opts.json) {
        return printJson({
          reference: r.reference,
          digest: r.digest,
          tag: r.tag,
          recorded: r.recorded,
          app: r.build.app,
          bytesSent: r.bytesSent,
          blobsPushed: r.blobsPushed,
          blobsSkipped: r.blobsSkipped,
          blobsMounted: r.blobsMounted,
        });
      }
      const mounted = r.blobsMounted > 0 ? ` (${r.blobsMounted} mounted from other repositories)` : '';
      info(
        `pushed ${r.blobsPushed} blob(s), skipped ${r.blobsSkipped} already there${mounted}; sent ${humanBytes(r.bytesSent)}`,
      );
      out(r.reference);
    });

  withCommon(
    program
      .command('pull')
      .argument('<ref>', 'REGISTRY/REPO:TAG or REGISTRY/REPO@sha256:…')
      .description('import an image from an OCI registry into the local store (by digest)'),
  )
    .option('--platform <os/arch>', 'platform to pick from a multi-platform image (default linux/<host arch>)')
    .option('--insecure', INSECURE)
    .action(async (ref: string, opts: PullOpts) => {
      const r = await pullImage(homeOf(opts), {
        ref,
        app: namedAppOf(opts),
        platform: opts.platform,
        insecure: opts.insecure,
      });
      if (opts.json) {
        return printJson({
          digest: r.digest,
          source: r.source,
          app: r.record.app,
          commit: r.record.commit || null,
          bytesReceived: r.bytesReceived,
          added: r.added,
        });
      }
      info(
        `${r.added ? 'imported' : 'already in the store:'} ${r.source}${r.record.app ? ` for ${r.record.app}` : ''} (${humanBytes(r.bytesReceived)} received)`,
      );
      out(r.digest);
    });
}
