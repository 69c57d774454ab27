// The sample's "compile" step: copy the sources into dist/ and stamp them with the commit time.
// It reads SOURCE_DATE_EPOCH (set by brr to the commit time), never the clock, so it is reproducible.
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';

const epoch = Number(process.env.SOURCE_DATE_EPOCH ?? 0);
mkdirSync('dist', { recursive: true });
cpSync('src', 'dist', { recursive: true });
writeFileSync('dist/build-info.json', JSON.stringify({ builtFrom: new Date(epoch * 1000).toISOString() }) + '\n');
