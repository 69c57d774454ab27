/**
 * What a switch from the running release to another one does, decided without side effects:
 * which processes to start, which ports the new release needs, what will be drained.
 */
import type { PortSpec, ProcessSpec } from '../../core/types.js';
import type { RunSpec } from '../types.js';
import { portKey } from './port-pool.js';

/** One process to run: type, 1-based index, and its definition. */
export interface ProcessSlot {
  type: string;
  index: number;
  spec: ProcessSpec;
}

export type SwitchPlan =
  | { kind: 'noop'; release: string }
  | {
      kind: 'switch';
      from: string | null;
      to: string;
      /** Processes of the new release, started beside the old ones. */
      start: ProcessSlot[];
      /** Every port the new release declares (deduplicated); held ones are shared, not rebound. */
      ports: PortSpec[];
      /** Ports only the old release declares: closed once it has drained. */
      closeAfter: PortSpec[];
      /** Old processes drained after the new ones are healthy. */
      drainCount: number;
      /**
       * `stop-first` when any type of the new release asks for it (an app bound to a fixed port):
       * the old processes stop before the new ones start. Else `overlap`.
       */
      strategy: 'overlap' | 'stop-first';
    };

/**
 * Heroku's convention for apps that declare no ports (a Procfile, or a `web` type without
 * `ports`): with `PORT` in the release's config, `web` is served by the proxy on that public
 * port, as if it declared `{ name: web, port: $PORT }`; the process itself is told its private
 * port in `PORT`. Anything else is returned unchanged.
 */
export function withImplicitPorts(type: string, def: ProcessSpec, env: Record<string, string>): ProcessSpec {
  if (type !== 'web' || def.ports.length > 0) return def;
  const raw = env.PORT ?? '';
  const port = Number(raw);
  if (!/^[0-9]{1,5}$/.test(raw) || port < 1 || port > 65535) return def;
  return { ...def, ports: [{ name: 'web', port, protocol: 'tcp', address: '127.0.0.1' }] };
}

/** The processes of a release: `formation[type] ?? scale` of each type, in a stable order. */
export function planSlots(spec: RunSpec): ProcessSlot[] {
  const slots: ProcessSlot[] = [];
  for (const type of Object.keys(spec.processes).sort()) {
    const def = withImplicitPorts(type, spec.processes[type] as ProcessSpec, spec.env);
    const n = Math.max(0, Math.floor(spec.formation[type] ?? def.scale));
    for (let index = 1; index <= n; index++) slots.push({ type, index, spec: def });
  }
  return slots;
}

/** Declared ports of the types that run at least one process, deduplicated by socket. */
export function declaredPorts(spec: RunSpec): PortSpec[] {
  const seen = new Map<string, PortSpec>();
  for (const slot of planSlots(spec)) {
    for (const p of slot.spec.ports) if (!seen.has(portKey(p))) seen.set(portKey(p), p);
  }
  return [...seen.values()];
}

/**
 * `current` is what runs now (null on first start or resume). Switching to the release that
 * already runs (same id and hash) is a no-op, so retries and resumes are idempotent.
 */
export function planSwitch(current: RunSpec | null, next: RunSpec): SwitchPlan {
  if (current && current.release === next.release && current.releaseHash === next.releaseHash) {
    return { kind: 'noop', release: next.release };
  }
  const ports = declaredPorts(next);
  const keep = new Set(ports.map(portKey));
  return {
    kind: 'switch',
    from: current?.release ?? null,
    to: next.release,
    start: planSlots(next),
    ports,
    closeAfter: current ? declaredPorts(current).filter((p) => !keep.has(portKey(p))) : [],
    drainCount: current ? planSlots(current).length : 0,
    strategy: Object.values(next.processes).some((p) => p.switch === 'stop-first') ? 'stop-first' : 'overlap',
  };
}
