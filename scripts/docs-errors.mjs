// Writes docs/errors.md from the error-code catalog (src/core/error-codes.ts), read from the
// compiled dist/ so it runs on plain Node 20: `npm run docs:errors` builds first.
// test/core/error-codes.test.ts fails when the checked-in file differs from what this writes.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const { renderErrorCodesMarkdown } = await import(path.join(root, 'dist', 'core', 'error-codes.js'));
const file = path.join(root, 'docs', 'errors.md');
writeFileSync(file, renderErrorCodesMarkdown());
process.stderr.write(`wrote ${path.relative(root, file)}\n`);
