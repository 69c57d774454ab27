/**
 * Which processes of a killed (or replaced) supervisor a new one takes over instead of
 * restarting: an app is adopted whole when every process of its current release still runs
 * (verified by pid, /proc start time and its instance marker) and the fd holder handed over
 * everything needed to keep supervising it — each public socket (to restart a process or start
 * the next release on the same socket) and each process's output pipes. Anything short of that
 * and the app is restarted as before, since half an app under two different regimes is worse.
 * Planning is pure; `verifyEntries` reads /proc.
 */
import type { RunSpec } from '../types.js';
import type { ChildEntry } from './children-file.js';
import { environValue, INSTANCE_VAR, readEnviron } from './containment.js';
import { HOME_MARKER_VAR } from './launch-plan.js';
import { handoffOf, portKey } from './port-pool.js';
import { isLive, readProcStat } from '../../core/proc.js';
import { declaredPorts, planSlots } from './switch-plan.js';

export interface AppAdoption {
  spec: RunSpec;
  /** The process to adopt for each slot, keyed `type.index`. */
  bySlot: Map<string, ChildEntry>;
}

export interface AdoptionPlan {
  adopt: AppAdoption[];
  /** Entries not adopted: stopped as orphans. */
  rest: ChildEntry[];
  /** Why an app that had live processes was not adopted (for the log). */
  refused: string[];
}

/** The fd holder's key for a public socket. */
/** How the fd holder's keys of public sockets begin. */
export const SOCKET_KEY_PREFIX = 'sock:';

export function socketKey(p: Parameters<typeof portKey>[0]): string {
  return `${SOCKET_KEY_PREFIX}${portKey(p)}`;
}

/** The fd holder's key for one stream of one process instance. */
export function outputKey(instance: string, stream: 'stdout' | 'stderr'): string {
  return `out:${instance}:${stream}`;
}

export function planAdoption(
  entries: ChildEntry[],
  specs: RunSpec[],
  verified: Set<number>,
  heldKeys: Set<string>,
): AdoptionPlan {
  const adopt: AppAdoption[] = [];
  const refused: string[] = [];
  const taken = new Set<ChildEntry>();
  for (const spec of specs) {
    const mine = entries.filter((e) => e.app === spec.app && e.release === spec.release && verified.has(e.pid));
    if (mine.length === 0) continue;
    const bySlot = new Map<string, ChildEntry>();
    const missing: string[] = [];
    for (const slot of planSlots(spec)) {
      const key = `${slot.type}.${slot.index}`;
      const e = mine.find((m) => m.type === slot.type && m.index === slot.index);
      if (!e || !e.instance) missing.push(`${key} not running`);
      else if (!heldKeys.has(outputKey(e.instance, 'stdout')) || !heldKeys.has(outputKey(e.instance, 'stderr')))
        missing.push(`${key}: output pipes not held`);
      else bySlot.set(key, e);
    }
    for (const p of declaredPorts(spec)) {
      // A handed-over (fds) socket must come back from the holder; a proxied port is bound again
      // by this supervisor and needs only each process's recorded private port.
      if (handoffOf(p) === 'fds') {
        if (!heldKeys.has(socketKey(p))) missing.push(`socket ${p.name} not held`);
      } else {
        for (const [key, e] of bySlot)
          if (e.privatePorts?.[p.name] === undefined) missing.push(`${key}: private port ${p.name} not recorded`);
      }
    }
    if (missing.length > 0) {
      refused.push(`${spec.app} ${spec.release}: ${missing.join(', ')}`);
      continue;
    }
    adopt.push({ spec, bySlot });
    for (const e of bySlot.values()) taken.add(e);
  }
  return { adopt, rest: entries.filter((e) => !taken.has(e)), refused };
}

/** Pids of entries that are still the very process recorded: same start time, this home's marker, same instance. */
export function verifyEntries(entries: ChildEntry[], homeRoot: string): Set<number> {
  const out = new Set<number>();
  for (const e of entries) {
    const st = readProcStat(e.pid);
    if (!isLive(st) || st.startTime !== e.startTime || !e.instance) continue;
    const env = readEnviron(e.pid);
    if (environValue(env, HOME_MARKER_VAR) !== homeRoot || environValue(env, INSTANCE_VAR) !== e.instance) continue;
    out.add(e.pid);
  }
  return out;
}
