import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderSystemdUnit } from '../../src/app/systemd-unit.js';

describe('brr supervise --systemd-unit', () => {
  it('renders a unit that restarts the supervisor always, for one home', () => {
    const unit = renderSystemdUnit({
      home: '/srv/brr',
      node: '/usr/bin/node',
      user: 'nf',
      main: '/opt/brr/dist/cli/main.js',
    });
    expect(unit.split('\n')).toEqual(
      expect.arrayContaining([
        '[Service]',
        'User=nf',
        'Environment=BRR_HOME=/srv/brr',
        'EnvironmentFile=-/etc/brr/supervisor.env',
        'ExecStart=/usr/bin/node /opt/brr/dist/cli/main.js supervise --home /srv/brr',
        'Restart=always',
        'KillMode=mixed',
        'WantedBy=multi-user.target',
      ]),
    );
  });

  it('quotes paths with spaces', () => {
    const unit = renderSystemdUnit({
      home: '/srv/my brr',
      node: '/usr/bin/node',
      user: 'nf',
      main: '/opt/brr/main.js',
    });
    expect(unit).toContain('ExecStart=/usr/bin/node /opt/brr/main.js supervise --home "/srv/my brr"');
  });

  it('is printed by the CLI for the given home', () => {
    const bin = path.resolve(import.meta.dirname, '..', '..', 'bin', 'brr.js');
    const r = spawnSync(process.execPath, [bin, 'supervise', '--systemd-unit', '--home', '/tmp/brr-unit-home'], {
      encoding: 'utf8',
    });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('supervise --home /tmp/brr-unit-home');
    expect(r.stdout).toContain('Restart=always');
  });
});
