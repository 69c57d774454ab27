import { fileURLToPath } from 'node:url';

/**
 * A systemd unit that runs the supervisor for one home, so a rebooted host brings every app
 * back to its current release with nobody present. The supervisor owns the ports, so it
 * restarts on any exit; KillMode=mixed lets it stop its children gracefully first.
 */
export function renderSystemdUnit(opts: { home: string; node: string; user: string; main?: string }): string {
  const main = opts.main ?? fileURLToPath(new URL('../cli/main.js', import.meta.url));
  const q = (s: string) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `"${s.replace(/(["\\$`])/g, '\\$1')}"`);
  return [
    '[Unit]',
    `Description=brr supervisor for ${opts.home}`,
    'After=network-online.target',
    'Wants=network-online.target',
    '',
    '[Service]',
    'Type=simple',
    `User=${opts.user}`,
    `Environment=BRR_HOME=${q(opts.home)}`,
    // Secrets (BRR_SECRETS_KEY_FILE, BRR_LEDGER_URL with its password) belong in a root-only
    // file, not in a unit that every user can read with `systemctl cat`.
    'EnvironmentFile=-/etc/brr/supervisor.env',
    `ExecStart=${q(opts.node)} ${q(main)} supervise --home ${q(opts.home)}`,
    'Restart=always',
    'RestartSec=1',
    'KillMode=mixed',
    'TimeoutStopSec=120',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n');
}
