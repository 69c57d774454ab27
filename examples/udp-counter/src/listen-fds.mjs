// Reads sockets handed over by a supervisor (systemd's LISTEN_FDS convention): fds start at 3,
// LISTEN_FDNAMES names them. Returns {} when started by hand, so the app can bind ports itself.
export function listenFds(env = process.env) {
  const count = Number(env.LISTEN_FDS ?? 0);
  if (!count || (env.LISTEN_PID && Number(env.LISTEN_PID) !== process.pid)) return {};
  const names = (env.LISTEN_FDNAMES ?? '').split(':');
  const fds = {};
  for (let i = 0; i < count; i++) fds[names[i] || `fd${3 + i}`] = 3 + i;
  return fds;
}
