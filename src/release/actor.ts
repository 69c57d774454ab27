import os from 'node:os';

/**
 * Who a ledger entry is attributed to. `BRR_ACTOR` wins so CI jobs and the supervisor can name
 * themselves ("ci:pipeline-812", "brr-supervisor"); otherwise `user@host`, which is what a
 * human on a shared ledger needs to find out who deployed.
 *
 * Not a security boundary: anyone can set BRR_ACTOR. It records intent, like a git author.
 */
export function defaultActor(env: NodeJS.ProcessEnv): string {
  const explicit = env.BRR_ACTOR?.trim();
  if (explicit) return explicit;
  return `${userName(env)}@${os.hostname() || 'localhost'}`;
}

function userName(env: NodeJS.ProcessEnv): string {
  try {
    // Throws when the uid has no passwd entry (common in containers run with --user 12345).
    const name = os.userInfo().username;
    if (name) return name;
  } catch {}
  return env.USER || env.LOGNAME || (process.getuid ? `uid${process.getuid()}` : 'unknown');
}
