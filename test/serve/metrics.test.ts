/**
 * `/metrics` rendered against a real home: the sample app deployed through the real CLI under
 * the real supervisor, then rendered in-process (renderMetrics, what `GET /metrics` calls) and
 * read back with a small exposition-format parser. Release number, switches and their duration
 * histogram after a rollback, restarts after a SIGKILL, health failures after a failing check,
 * the lease, the server's own stats; and a second scrape reads only what is new.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openContext, type Context } from '../../src/app/context.js';
import type { Ledger } from '../../src/ledger/ledger.js';
import { newServeStats, recordLeaseWait, renderMetrics, renderSnapshot } from '../../src/serve/metrics.js';
import { Exposition } from '../../src/serve/prometheus-text.js';
import { Sandbox } from '../e2e/harness.js';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** A strict-enough reader of the text format 0.0.4: every sample's family has HELP and TYPE first. */
function parseExposition(text: string): { samples: Sample[]; types: Map<string, string> } {
  expect(text.endsWith('\n')).toBe(true);
  const types = new Map<string, string>();
  const helps = new Set<string>();
  const samples: Sample[] = [];
  for (const line of text.slice(0, -1).split('\n')) {
    const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (meta) {
      if (meta[1] === 'HELP') helps.add(meta[2]!);
      else {
        expect(['gauge', 'counter', 'histogram', 'summary', 'untyped']).toContain(meta[3]);
        types.set(meta[2]!, meta[3]!);
      }
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${JSON.stringify(line)}`);
    const name = m[1]!;
    const family = types.has(name) ? name : name.replace(/_(bucket|sum|count)$/, '');
    expect(types.has(family), `${name} has a TYPE`).toBe(true);
    expect(helps.has(family), `${name} has a HELP`).toBe(true);
    const labels: Record<string, string> = {};
    const body = m[2] ? m[2].slice(1, -1) : '';
    let i = 0;
    while (i < body.length) {
      const key = /^([a-zA-Z_][a-zA-Z0-9_]*)="/.exec(body.slice(i));
      if (!key) throw new Error(`bad labels: ${body}`);
      i += key[0].length;
      let v = '';
      for (;;) {
        const c = body[i++];
        if (c === undefined) throw new Error(`unterminated label value: ${body}`);
        if (c === '"') break;
        if (c === '\\') {
          const n = body[i++];
          v += n === 'n' ? '\n' : n;
        } else v += c;
      }
      labels[key[1]!] = v;
      if (body[i] === ',') i++;
    }
    const raw = m[3]!;
    samples.push({ name, labels, value: raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : Number(raw) });
  }
  return { samples, types };
}

function pick(samples: Sample[], name: string, labels: Record<string, string> = {}): Sample[] {
  return samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
}
function one(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const found = pick(samples, name, labels);
  expect(found, `${name} ${JSON.stringify(labels)}`).toHaveLength(1);
  return found[0]!.value;
}

/** Histogram invariants: cumulative buckets, +Inf equals _count. */
function checkHistogram(samples: Sample[], name: string, labels: Record<string, string>): number[] {
  const buckets = pick(samples, `${name}_bucket`, labels);
  const counts = buckets.map((b) => b.value);
  for (let i = 1; i < counts.length; i++) expect(counts[i]).toBeGreaterThanOrEqual(counts[i - 1]!);
  expect(buckets.at(-1)!.labels.le).toBe('+Inf');
  expect(counts.at(-1)).toBe(one(samples, `${name}_count`, labels));
  return counts;
}

const APP = 'udp-counter';
let sb: Sandbox;
let ctx: Context;
const stats = newServeStats();

async function scrape() {
  return parseExposition(await renderMetrics(ctx, stats));
}

async function ps(): Promise<
  Array<{ pid: number | null; restarts: number; release: string; healthFailures?: number }>
> {
  return sb.json(['ps']);
}

beforeAll(async () => {
  sb = await Sandbox.create();
  sb.commit('brr.yaml', readFileSync(path.join(sb.repo, 'brr.yaml'), 'utf8').replace('timeout: 15s', 'timeout: 3s'));
  await sb.ok(['deploy']);
  ctx = openContext({ home: sb.home });
}, 120_000);

afterAll(async () => {
  await ctx?.close();
  await sb.cleanup();
});

describe('renderMetrics on a real home', () => {
  it('reports the current release, the supervisor and its process, one activated switch', async () => {
    const { samples, types } = await scrape();
    expect(types.get('brr_switch_duration_seconds')).toBe('histogram');
    expect(types.get('brr_switches_total')).toBe('counter');
    expect(one(samples, 'brr_app_release', { app: APP, release: 'v1' })).toBe(1);
    expect(one(samples, 'brr_app_release_number', { app: APP })).toBe(1);
    expect(one(samples, 'brr_app_in_sync', { app: APP })).toBe(1);
    expect(one(samples, 'brr_supervisor_up')).toBe(1);
    expect(one(samples, 'brr_process_up', { app: APP, type: 'nf', index: '1', release: 'v1' })).toBe(1);
    expect(one(samples, 'brr_switches_total', { app: APP, outcome: 'activated' })).toBe(1);
    expect(one(samples, 'brr_switches_total', { app: APP, outcome: 'failed' })).toBe(0);
    expect(checkHistogram(samples, 'brr_switch_duration_seconds', { app: APP }).at(-1)).toBe(1);
    expect(one(samples, 'brr_lease_held', { app: APP })).toBe(0);
    expect(one(samples, 'brr_health_check_failures_total', { app: APP, type: 'nf', index: '1' })).toBe(0);
    // Nothing measured by a server yet: the verification gauges have no sample.
    expect(pick(samples, 'brr_ledger_verify_ok')).toEqual([]);
  });

  it('a config change and a rollback: release number 3, three switches in the histogram', async () => {
    await sb.ok(['config', 'set', 'GREETING=metrics']);
    await sb.ok(['rollback']);
    const { samples } = await scrape();
    expect(one(samples, 'brr_app_release_number', { app: APP })).toBe(3);
    expect(one(samples, 'brr_app_release', { app: APP, release: 'v3' })).toBe(1);
    expect(pick(samples, 'brr_app_release', { app: APP })).toHaveLength(1);
    expect(one(samples, 'brr_switches_total', { app: APP, outcome: 'activated' })).toBe(3);
    const counts = checkHistogram(samples, 'brr_switch_duration_seconds', { app: APP });
    expect(counts.at(-1)).toBe(3);
    const events = await ctx.ledger.listEvents(APP);
    const sumMs = events.filter((e) => e.type === 'activated').reduce((s, e) => s + (e.detail.durationMs as number), 0);
    expect(one(samples, 'brr_switch_duration_seconds_sum', { app: APP })).toBeCloseTo(sumMs / 1000, 6);
  });

  it('restarts grow after a SIGKILL of the process', async () => {
    const [before] = await ps();
    expect(before!.pid).not.toBeNull();
    process.kill(before!.pid!, 'SIGKILL');
    const end = Date.now() + 20_000;
    for (;;) {
      const [p] = await ps();
      if (p!.restarts >= 1 && p!.pid !== null && p!.pid !== before!.pid) break;
      if (Date.now() > end) throw new Error('the process did not come back');
      await new Promise((r) => setTimeout(r, 100));
    }
    const { samples } = await scrape();
    expect(one(samples, 'brr_process_restarts_total', { app: APP, type: 'nf', index: '1', release: 'v3' })).toBe(1);
    expect(one(samples, 'brr_process_up', { app: APP, type: 'nf', index: '1', release: 'v3' })).toBe(1);
  });

  it('a failing health check: health failures counted, the switch failed, v3 still current', async () => {
    const r = await sb.brr(['config', 'set', 'HEALTHY=0']);
    expect(r.code).not.toBe(0);
    const [p] = await ps();
    expect(p!.healthFailures).toBeGreaterThanOrEqual(1);
    const { samples } = await scrape();
    expect(one(samples, 'brr_health_check_failures_total', { app: APP, type: 'nf', index: '1' })).toBe(
      p!.healthFailures,
    );
    expect(one(samples, 'brr_switches_total', { app: APP, outcome: 'failed' })).toBe(1);
    expect(one(samples, 'brr_app_release_number', { app: APP })).toBe(3);
    expect(one(samples, 'brr_app_releases', { app: APP })).toBe(4);
    expect(one(samples, 'brr_app_in_sync', { app: APP })).toBe(1);
  });

  it("the server's stats and the lease", async () => {
    recordLeaseWait(stats, 700);
    recordLeaseWait(stats, 20_000);
    stats.verify = { ok: true, checkedAt: '2026-12-01T10:00:00.000Z' };
    const lease = await ctx.ledger.acquireLease(
      APP,
      { owner: 'metrics-test', host: 'h', pid: process.pid },
      60_000,
      new Date(),
    );
    try {
      const { samples } = await scrape();
      expect(one(samples, 'brr_lease_held', { app: APP })).toBe(1);
      const counts = checkHistogram(samples, 'brr_lease_wait_seconds', {});
      expect(counts.at(-1)).toBe(2);
      expect(one(samples, 'brr_lease_wait_seconds_bucket', { le: '0.5' })).toBe(0);
      expect(one(samples, 'brr_lease_wait_seconds_bucket', { le: '1' })).toBe(1);
      expect(one(samples, 'brr_lease_wait_seconds_bucket', { le: '30' })).toBe(2);
      expect(one(samples, 'brr_lease_wait_seconds_sum')).toBeCloseTo(20.7, 6);
      expect(one(samples, 'brr_ledger_verify_ok')).toBe(1);
      expect(one(samples, 'brr_ledger_verify_timestamp_seconds')).toBe(Date.parse('2026-12-01T10:00:00Z') / 1000);
    } finally {
      await ctx.ledger.releaseLease(APP, lease.token);
    }
  });

  it('a second scrape reads only what is new: no whole event log, one page per app', async () => {
    await scrape();
    const counts: Record<string, number> = {};
    const real = ctx.ledger;
    const counting = new Proxy(real, {
      get(obj, prop) {
        const v: unknown = Reflect.get(obj, prop, obj);
        if (typeof v !== 'function') return v;
        return (...a: unknown[]) => {
          counts[String(prop)] = (counts[String(prop)] ?? 0) + 1;
          return (v as (...x: unknown[]) => unknown).apply(obj, a);
        };
      },
    }) as Ledger;
    // The fold cache is keyed by the ledger object: this counting view gets its own.
    const view: Context = { ...ctx, ledger: counting };
    await renderMetrics(view, stats); // fills the view's cache: reads everything once
    for (const k of Object.keys(counts)) delete counts[k];
    await renderMetrics(view, stats);
    expect(counts.listEvents ?? 0).toBe(0);
    expect(counts.listReleases ?? 0).toBe(0);
    expect(counts.readEntries).toBe(1); // one app, nothing new
  });
});

describe('the exposition text', () => {
  it('escapes label values and help text, renders histograms cumulatively', () => {
    const text = new Exposition()
      .gauge('x_info', 'help with \\ and\nnewline', [[{ v: 'a"b\\c\nd' }, 1]])
      .histogram('x_seconds', 'h', [
        {
          labels: { app: 'a' },
          buckets: [
            [0.5, 1],
            [1, 3],
          ],
          sum: 2.5,
          count: 4,
        },
      ])
      .text();
    expect(text).toContain('# HELP x_info help with \\\\ and\\nnewline\n');
    expect(text).toContain('x_info{v="a\\"b\\\\c\\nd"} 1\n');
    expect(text).toContain(
      'x_seconds_bucket{app="a",le="0.5"} 1\nx_seconds_bucket{app="a",le="1"} 3\nx_seconds_bucket{app="a",le="+Inf"} 4\nx_seconds_sum{app="a"} 2.5\nx_seconds_count{app="a"} 4\n',
    );
    const { samples } = parseExposition(text);
    expect(samples[0]!.labels.v).toBe('a"b\\c\nd');
  });

  it('renders an empty home', () => {
    const { samples } = parseExposition(
      renderSnapshot({ apps: [], supervisor: { up: false, processes: [] } }, newServeStats()),
    );
    expect(one(samples, 'brr_supervisor_up')).toBe(0);
    expect(one(samples, 'brr_lease_wait_seconds_count')).toBe(0);
  });
});
