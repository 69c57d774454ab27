/**
 * What an interrupted CLI (Ctrl-C, SIGTERM) gives back before it exits: every deploy lease it
 * holds is released at once, so the next command does not wait out the TTL, and the user is
 * told whether the supervisor carries on a switch this CLI had already asked for (the
 * supervisor finishes a requested switch on its own and records its outcome; interrupting the
 * CLI only stops the waiting). Leases and switches register here while they are in play.
 */

interface Hold {
  app: string;
  release: () => Promise<void>;
}

const holds = new Set<Hold>();
/** app → release whose switch was requested from the supervisor and is not answered yet. */
const switching = new Map<string, string>();

/** Registers a held lease; returns the function that unregisters it (once it is released normally). */
export function trackLease(app: string, release: () => Promise<void>): () => void {
  const hold: Hold = { app, release };
  holds.add(hold);
  return () => {
    holds.delete(hold);
  };
}

/** Marks that the supervisor was asked to switch `app` to `release`; returns the function that clears it once answered. */
export function trackSwitch(app: string, release: string): () => void {
  switching.set(app, release);
  return () => {
    if (switching.get(app) === release) switching.delete(app);
  };
}

/** Whether anything is in play that an interruption must give back. */
export function holdsLeases(): boolean {
  return holds.size > 0;
}

export interface InterruptNote {
  app: string;
  /** False when the lease could not be released in time (it then lapses after its TTL). */
  released: boolean;
  /** The release the supervisor was asked to switch to and carries on with; null when none. */
  switching: string | null;
}

/** Releases every held lease (each bounded by `timeoutMs`) and says what happens to each app. */
export async function releaseOnInterrupt(timeoutMs = 3_000): Promise<InterruptNote[]> {
  const all = [...holds];
  holds.clear();
  return Promise.all(
    all.map(async (h) => {
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
      const released = await Promise.race([
        h.release().then(
          () => true,
          () => false,
        ),
        timedOut,
      ]);
      clearTimeout(timer);
      return { app: h.app, released, switching: switching.get(h.app) ?? null };
    }),
  );
}

/** Pure: the line an interrupted CLI prints for one app. */
export function interruptMessage(n: InterruptNote): string {
  const lease = n.released
    ? `released the deploy lease on ${n.app}`
    : `could not release the deploy lease on ${n.app} (it lapses by itself, or take it with \`brr lock --force --app ${n.app}\`)`;
  const run = n.switching
    ? `the supervisor carries on the switch to ${n.switching} and records its outcome (see \`brr status --app ${n.app}\`)`
    : 'no switch was handed to the supervisor: the running release is unchanged';
  return `interrupted: ${lease}; ${run}`;
}
