// Preloaded into the CLI by auth.test.ts (NODE_OPTIONS=--import=…): reports every outgoing TCP
// connection and DNS lookup on stderr, so a test can prove a refusal happened before any traffic.
import dns from 'node:dns';
import net from 'node:net';

const report = (what) => process.stderr.write(`BRR-TEST-NETWORK ${what}\n`);
const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (...args) {
  // net.connect() passes its normalized arguments as one array: [options, callback].
  const o = Array.isArray(args[0]) ? args[0][0] : args[0];
  report(`connect ${typeof o === 'object' && o ? `${o.host ?? o.path}:${o.port ?? ''}` : String(o)}`);
  return connect.apply(this, args);
};
const lookup = dns.lookup;
dns.lookup = function (host, ...rest) {
  report(`lookup ${host}`);
  return lookup.call(this, host, ...rest);
};
