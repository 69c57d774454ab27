// `node --import` this file to record every module a process loads (see hooks.mjs). CommonJS
// `require` calls are recorded too: the bundled CLI (dist/brr.cjs) loads its npm packages with
// require, which Node 20's module hooks do not see.
import { appendFileSync } from 'node:fs';
import Module, { register } from 'node:module';
import { pathToFileURL } from 'node:url';

register('./hooks.mjs', import.meta.url);

const load = Module._load;
Module._load = function (request, parent, isMain) {
  try {
    const file = Module._resolveFilename(request, parent, isMain);
    if (file.startsWith('/')) appendFileSync(process.env.BRR_LOAD_LOG, `${pathToFileURL(file).href}\n`);
  } catch {
    // not resolvable: the real load below reports it
  }
  return load.apply(this, arguments);
};
