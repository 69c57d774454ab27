import { BrrError, isBrrError } from '../core/errors.js';
import type { EventType } from '../core/types.js';
import { configEnv } from '../release/config.js';
import { assertReleaseTrusted } from '../release/trust.js';
import type { RunSpec, SupervisorDeps } from '../run/types.js';
import { findBuild } from '../store/builds.js';
import type { Context } from './context.js';
import { buildCollected } from './preflight.js';
import { loadSecretsKey } from './settings.js';
import { readAppState, type AppState } from './app-state.js';
import { materializeRelease, setCurrentLink } from '../store/materialize.js';

/** Wires the supervisor to the ledger (what should run) and the store (what it is made of). */
export function supervisorDeps(ctx: Context, log: (line: string) => void): SupervisorDeps {
  const { paths, ledger, clock, actor, settings } = ctx;
  // `state`: the app's state when the caller already read it (desired() does, once per app).
  const prepare = async (app: string, id: string, given?: AppState): Promise<RunSpec> => {
    const rel = await ledger.getRelease(app, id);
    if (!rel)
      throw new BrrError('release_not_found', `app ${app} has no release ${id}`, { hint: `brr releases --app ${app}` });
    // Both refusals come before anything is materialized or started, so what runs stays as is.
    // The secrets key is the supervisor's own (its settings: its environment or unit), read per
    // release so a rotated key file is picked up without a restart.
    const state = given ?? (await readAppState(ctx, app));
    if (state.trust.length > 0) assertReleaseTrusted(await state.signedEvents(rel.id), state.trust, app, rel);
    const env = configEnv(rel.config, loadSecretsKey(settings));
    // After a gc, say so and how to rebuild, rather than "build not found".
    const build = await findBuild(paths, rel.build.digest).catch(async (e: unknown) => {
      throw isBrrError(e) && e.code === 'build_not_found' ? await buildCollected(paths, rel) : e;
    });
    const dir = await materializeRelease(paths, app, rel.id, rel.build.digest);
    return {
      app,
      release: rel.id,
      releaseHash: rel.hash,
      dir,
      env,
      processes: build.processes,
      formation: rel.formation,
    };
  };
  return {
    home: paths,
    clock,
    log,
    secretsKeyId() {
      try {
        return loadSecretsKey(settings)?.id ?? null;
      } catch {
        return null; // an invalid key opens nothing either
      }
    },
    prepare: (app, id) => prepare(app, id),
    async desired() {
      const specs: RunSpec[] = [];
      for (const app of await ledger.listApps()) {
        // Read by event type (app-state.ts): a resume does not parse each app's whole history.
        const state = await readAppState(ctx, app);
        const { currentId: id, target } = state;
        // Apps that run on Kubernetes are the cluster's to keep running, not this supervisor's.
        if (!id || target.target === 'kubernetes') continue;
        try {
          specs.push(await prepare(app, id, state));
        } catch (e) {
          // One broken app must not keep the others down after a reboot.
          log(`cannot resume ${app} ${id}: ${e instanceof Error ? e.message : String(e)}`);
        }
      }
      return specs;
    },
    async record(app: string, type: EventType, release: string | null, detail: Record<string, unknown>) {
      await ledger.appendEvent(app, { type, release, detail, actor: actor, createdAt: clock.now().toISOString() });
      if ((type === 'activated' || type === 'rolled-back') && release) await setCurrentLink(paths, app, release);
    },
  };
}
