/**
 * The Prometheus text exposition format 0.0.4 as rabbitmq_prometheus writes it: one `# TYPE` and
 * `# HELP` pair per family, then its samples; histograms as `_bucket{le=…}`, `_sum` and `_count`.
 */

export type Labels = Record<string, string | number>
export type MetricType = 'counter' | 'gauge' | 'untyped'

/** One labelled series of a histogram: cumulative counts per upper bound, and the sum. */
export interface HistogramSeries {
  labels: Labels
  bounds: readonly number[]
  cumulative: readonly number[]
  sum: number
}

/** Builds the text of one scrape. */
export class Exposition {
  private readonly lines: string[] = []

  /** `common`: labels every sample carries (in a cluster: rabbitmq_cluster, issue 13); none on a single node */
  constructor(private readonly common: Labels | null = null) {}

  private labels(l: Labels): Labels {
    return this.common === null ? l : { ...l, ...this.common }
  }

  family(name: string, type: MetricType, help: string, samples: [Labels, number][]): void {
    this.lines.push(`# TYPE ${name} ${type}`, `# HELP ${name} ${help}`)
    for (const [labels, value] of samples) this.lines.push(`${name}${formatLabels(this.labels(labels))} ${formatValue(value)}`)
  }

  /** A family with one unlabelled sample. */
  one(name: string, type: MetricType, help: string, value: number): void {
    this.family(name, type, help, [[{}, value]])
  }

  histogram(name: string, help: string, series: HistogramSeries[]): void {
    this.lines.push(`# TYPE ${name} histogram`, `# HELP ${name} ${help}`)
    for (const s of series) {
      const labels = this.labels(s.labels)
      s.bounds.forEach((le, i) => this.lines.push(`${name}_bucket${formatLabels({ ...labels, le: formatValue(le) })} ${formatValue(s.cumulative[i])}`))
      this.lines.push(`${name}_count${formatLabels(labels)} ${formatValue(s.cumulative[s.cumulative.length - 1])}`)
      this.lines.push(`${name}_sum${formatLabels(labels)} ${formatValue(s.sum)}`)
    }
  }

  text(): string {
    return this.lines.join('\n') + '\n'
  }
}

function formatLabels(labels: Labels): string {
  const keys = Object.keys(labels)
  if (keys.length === 0) return ''
  const esc = (v: string | number): string => String(v).replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
  return `{${keys.map((k) => `${k}="${esc(labels[k])}"`).join(',')}}`
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN'
  if (!Number.isFinite(v)) return v > 0 ? '+Inf' : '-Inf'
  return String(v)
}
