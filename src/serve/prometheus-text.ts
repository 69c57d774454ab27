/**
 * The Prometheus text exposition format (version 0.0.4), written by hand: a metric family is
 * `# HELP`, `# TYPE`, then its samples; label values escape `\`, `"` and newlines; histograms
 * give cumulative `_bucket{le="…"}` counts ending with `le="+Inf"`, then `_sum` and `_count`.
 * Pure: data in, text out, so the tests can compare exact lines.
 */

export type Labels = Record<string, string>;

export const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function escapeHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

function labelText(labels: Labels): string {
  const keys = Object.keys(labels);
  if (keys.length === 0) return '';
  return `{${keys.map((k) => `${k}="${escapeLabelValue(labels[k] as string)}"`).join(',')}}`;
}

export interface HistogramSeries {
  labels: Labels;
  /** Upper bounds, ascending, with the cumulative count of observations ≤ each. */
  buckets: Array<[le: number, cumulative: number]>;
  sum: number;
  count: number;
}

/** Collects metric families in order and renders them. */
export class Exposition {
  private readonly lines: string[] = [];

  private family(name: string, type: 'gauge' | 'counter' | 'histogram', help: string): void {
    this.lines.push(`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${type}`);
  }

  gauge(name: string, help: string, samples: Array<[Labels, number]>): this {
    this.family(name, 'gauge', help);
    for (const [l, v] of samples) this.lines.push(`${name}${labelText(l)} ${formatValue(v)}`);
    return this;
  }

  /** `name` should end in `_total`. */
  counter(name: string, help: string, samples: Array<[Labels, number]>): this {
    this.family(name, 'counter', help);
    for (const [l, v] of samples) this.lines.push(`${name}${labelText(l)} ${formatValue(v)}`);
    return this;
  }

  histogram(name: string, help: string, series: HistogramSeries[]): this {
    this.family(name, 'histogram', help);
    for (const s of series) {
      for (const [le, n] of s.buckets)
        this.lines.push(`${name}_bucket${labelText({ ...s.labels, le: formatValue(le) })} ${formatValue(n)}`);
      this.lines.push(`${name}_bucket${labelText({ ...s.labels, le: '+Inf' })} ${formatValue(s.count)}`);
      this.lines.push(`${name}_sum${labelText(s.labels)} ${formatValue(s.sum)}`);
      this.lines.push(`${name}_count${labelText(s.labels)} ${formatValue(s.count)}`);
    }
    return this;
  }

  text(): string {
    return `${this.lines.join('\n')}\n`;
  }
}
