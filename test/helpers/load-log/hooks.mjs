// Module hooks for test/cli/startup-modules.test.ts: appends the URL of every file module the
// process loads (ESM and CommonJS alike go through `load`) to the file named by BRR_LOAD_LOG.
import { appendFileSync } from 'node:fs';

export async function load(url, context, next) {
  if (url.startsWith('file:')) appendFileSync(process.env.BRR_LOAD_LOG, `${url}\n`);
  return next(url, context);
}
