import { describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { findInit, isStaticElf, writeInitLayer } from '../../../src/build/init-layer.js';
import { OciLayout } from '../../../src/store/oci-layout.js';
import { writeLayer } from '../../../src/store/tar.js';
import { execArgv, pid1Argv } from '../../../src/run/kubernetes/pid1.js';
import { renderRelease } from '../../../src/run/kubernetes/render.js';
import { pid1Of, renderInput } from './fixtures.js';

/** PID 1 of every rendered container: the image's init, the command under it, no shell as PID 1. */

describe('PID 1', () => {
  it.each([
    ['node nf.mjs', ['node', 'nf.mjs']],
    ['  ./bin/upf  --config=/etc/upf.yaml -v ', ['./bin/upf', '--config=/etc/upf.yaml', '-v']],
    ['node nf.mjs > /tmp/log', null],
    ['node "nf.mjs"', null],
    ['exec node $ENTRY', null],
    ['a && b', null],
    ['a; b', null],
    ['ls *.mjs', null],
    ['LOG=1 node nf.mjs', null],
    ['~/bin/x', null],
  ])('exec form for %j: %j', (command, argv) => {
    expect(execArgv(command)).toEqual(argv);
  });

  it('runs the command under tini (-g: signals to the process group) or dumb-init; a shell only as their child', () => {
    expect(pid1Argv('/usr/bin/tini', 'node nf.mjs')).toEqual(['/usr/bin/tini', '-g', '--', 'node', 'nf.mjs']);
    expect(pid1Argv('/usr/local/bin/tini-static', 'a && b')).toEqual([
      '/usr/local/bin/tini-static',
      '-g',
      '--',
      '/bin/sh',
      '-c',
      'a && b',
    ]);
    expect(pid1Argv('/usr/bin/dumb-init', 'node nf.mjs')).toEqual(['/usr/bin/dumb-init', '--', 'node', 'nf.mjs']);
    expect(pid1Argv(null, 'node nf.mjs')).toEqual(['node', 'nf.mjs']);
  });

  it("every rendered container's PID 1 passes CNTi's specialized_init_system rule (argv[0] names tini, dumb-init or s6-svscan)", () => {
    const { objects, warnings } = renderRelease(renderInput());
    const workloads = objects.filter((o) => o.kind === 'Deployment' || o.kind === 'StatefulSet');
    expect(workloads).toHaveLength(3);
    for (const argv of workloads.flatMap(pid1Of)) {
      expect(argv[0]).toMatch(/tini|dumb-init|s6-svscan/);
      expect(argv.slice(0, 3)).toEqual(['/usr/bin/tini', '-g', '--']);
      expect(argv[3]).not.toBe('/bin/sh');
    }
    expect(warnings).toEqual([]);
  });

  it('an image without an init renders the command as PID 1 and warns, naming the CNTi checks and build.image.init', () => {
    const { objects, warnings } = renderRelease(renderInput({ init: null }));
    expect(pid1Of(objects.find((o) => o.kind === 'Deployment')!)[0]).toEqual(['node', 'nf.mjs']);
    expect(warnings.join('\n')).toMatch(/specialized_init_system.*build\.image\.init/);
  });

  it('tells a static executable from a dynamic one (a dynamic init would not start in a slim image)', async () => {
    expect(await isStaticElf('/usr/bin/tini-static')).toBe(true);
    expect(await isStaticElf('/usr/bin/tini')).toBe(false);
    expect(await isStaticElf(import.meta.filename)).toBe(false);
  });

  it('finds tini or dumb-init in base layers (a later layer counts); packs build.image.init reproducibly', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'brr-init-'));
    const layout = new OciLayout(path.join(dir, 'oci'));
    await layout.init();
    const layer = async (files: string[]) => {
      const root = mkdtempSync(path.join(dir, 'root-'));
      for (const f of files) {
        mkdirSync(path.dirname(path.join(root, f)), { recursive: true });
        writeFileSync(path.join(root, f), 'x');
      }
      const tmp = layout.tempPath('layer');
      const r = await writeLayer(root, tmp, { prefix: '', mtime: 0 });
      await layout.adoptBlob(tmp, r.digest);
      return { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: r.digest, size: r.size };
    };
    const plain = await layer(['bin/sh', 'etc/os-release']);
    expect(await findInit(layout, [plain])).toBeNull();
    expect(await findInit(layout, [plain, await layer(['usr/bin/dumb-init'])])).toBe('/usr/bin/dumb-init');
    const a = await writeInitLayer(layout, '/usr/bin/tini-static', dir, dir);
    const b = await writeInitLayer(layout, '/usr/bin/tini-static', dir, dir);
    expect(a.path).toBe('/usr/local/bin/tini-static');
    expect(b.layer.descriptor.digest).toBe(a.layer.descriptor.digest);
    expect(await findInit(layout, [plain, a.layer.descriptor])).toBe('/usr/local/bin/tini-static');
    await expect(writeInitLayer(layout, '/usr/bin/tini', dir, dir)).rejects.toMatchObject({
      code: 'init_invalid',
      exitCode: 2,
    });
    await expect(writeInitLayer(layout, '/bin/sh', dir, dir)).rejects.toMatchObject({ code: 'init_invalid' });
  });
});
