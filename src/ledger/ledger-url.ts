/**
 * Which ledger URL the flags and environment name: its own module so resolving settings (every
 * command, also those that never open the ledger, like `brr ps`) does not load the SQLite
 * driver through ledger/open.ts (issue 13).
 */

/** The flag wins over BRR_LEDGER_URL; an empty value means the embedded ledger. */
export function resolveLedgerUrl(flag: string | undefined, env: NodeJS.ProcessEnv): string | undefined {
  const url = flag ?? env.BRR_LEDGER_URL;
  return url === undefined || url.trim() === '' ? undefined : url.trim();
}
