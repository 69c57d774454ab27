#!/usr/bin/env node
// The `brr` executable: turns on Node's compile cache where the running Node has it, then loads
// the CLI. module.enableCompileCache() exists from Node 22.1 (not on the Node 20 line brr also
// supports, where this is a no-op); with no argument it uses $NODE_COMPILE_CACHE or
// <os tmpdir>/node-compile-cache, and NODE_DISABLE_COMPILE_CACHE=1 turns it off. The CLI is
// imported dynamically so the cache is on before any of brr's modules is compiled.
import module from 'node:module';

module.enableCompileCache?.();
await import('../dist/cli/main.js');
