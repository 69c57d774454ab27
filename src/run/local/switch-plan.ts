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
    };

/** The processes of a release: `formation[type] ?? scale` of each type, in a stable order. */
export function planSlots(spec: RunSpec): ProcessSlot[] {
  const slots: ProcessSlot[] = [];
  for (const type of Object.keys(spec.processes).sort()) {
    const def = spec.processes[type] as ProcessSpec;
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
  };
}
