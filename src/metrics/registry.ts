// A minimal Prometheus registry: gauges and counters with labels, rendered in the text exposition
// format (0.0.4). dockvault exports a handful of series; a dependency would buy nothing here.

type Labels = Record<string, string>;

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function labelText(labels: Labels): string {
  const entries = Object.entries(labels).sort(([a], [b]) => a.localeCompare(b));
  if (entries.length === 0) return '';
  return `{${entries.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')}}`;
}

export class Metric {
  readonly #series = new Map<string, number>();
  readonly name: string;
  readonly help: string;
  readonly type: 'gauge' | 'counter';

  constructor(name: string, help: string, type: 'gauge' | 'counter') {
    this.name = name;
    this.help = help;
    this.type = type;
  }

  set(labels: Labels, value: number): void {
    this.#series.set(labelText(labels), value);
  }

  inc(labels: Labels, by = 1): void {
    const key = labelText(labels);
    this.#series.set(key, (this.#series.get(key) ?? 0) + by);
  }

  get(labels: Labels): number | undefined {
    return this.#series.get(labelText(labels));
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} ${this.type}`];
    for (const [labels, value] of this.#series) lines.push(`${this.name}${labels} ${value}`);
    return `${lines.join('\n')}\n`;
  }
}

export class Registry {
  readonly #metrics: Metric[] = [];

  gauge(name: string, help: string): Metric {
    return this.#add(new Metric(name, help, 'gauge'));
  }

  counter(name: string, help: string): Metric {
    return this.#add(new Metric(name, help, 'counter'));
  }

  #add(metric: Metric): Metric {
    this.#metrics.push(metric);
    return metric;
  }

  render(): string {
    return this.#metrics.map((m) => m.render()).join('');
  }
}
