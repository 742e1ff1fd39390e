// Progress of a measuring run: what is being measured, how much is done, and the time left.
// The estimate weighs remaining tasks by taskWeight() and converts weight to time with the rate
// observed so far for the same kind of task (layers, links, overlap measure at different speeds).
// On a terminal one line is redrawn; elsewhere (logs, CI) a line is printed every few tasks.
import type { MeasureTask } from './tasks.ts';
import { taskWeight } from './tasks.ts';

export interface ProgressSink {
  write(s: string): void;
  isTTY?: boolean;
  columns?: number;
}

export class ProgressTracker {
  private readonly weights = new Map<string, { weight: number; kind: MeasureTask['kind'] }>();
  private readonly done = new Set<string>();
  private readonly spent: Record<MeasureTask['kind'], { ms: number; weight: number }> = {
    layer: { ms: 0, weight: 0 },
    link: { ms: 0, weight: 0 },
    overlap: { ms: 0, weight: 0 },
  };
  private current: { id: string; startedMs: number } | undefined;
  private lastPrint = 0;
  readonly startedMs: number;

  constructor(
    tasks: readonly MeasureTask[],
    private readonly sink: ProgressSink | undefined,
    private readonly now: () => number = () => Date.now(),
  ) {
    for (const t of tasks) this.weights.set(t.id, { weight: taskWeight(t), kind: t.kind });
    this.startedMs = this.now();
  }

  get total(): number {
    return this.weights.size;
  }
  get completed(): number {
    return this.done.size;
  }

  start(id: string): void {
    this.current = { id, startedMs: this.now() };
    this.render(false);
  }

  finish(id: string): void {
    const w = this.weights.get(id);
    if (w && this.current?.id === id) {
      const s = this.spent[w.kind];
      s.ms += this.now() - this.current.startedMs;
      s.weight += w.weight;
    }
    this.done.add(id);
    this.current = undefined;
    this.render(false);
  }

  /** Estimated milliseconds left, or undefined before any task of a remaining kind has finished. */
  etaMs(): number | undefined {
    const overall = Object.values(this.spent).reduce((a, s) => ({ ms: a.ms + s.ms, weight: a.weight + s.weight }), { ms: 0, weight: 0 });
    let left = 0;
    for (const [id, w] of this.weights) {
      if (this.done.has(id)) continue;
      const s = this.spent[w.kind];
      const rate = s.weight > 0 ? s.ms / s.weight : overall.weight > 0 ? overall.ms / overall.weight : undefined;
      if (rate === undefined) return undefined;
      left += w.weight * rate;
    }
    if (this.current) left -= Math.min(left, this.now() - this.current.startedMs);
    return Math.max(0, left);
  }

  line(): string {
    const n = this.total;
    const k = this.completed;
    const width = 24;
    const filled = n > 0 ? Math.round((k / n) * width) : width;
    const bar = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
    const eta = this.etaMs();
    const etaText = eta === undefined ? 'ETA --' : `ETA ${fmtDuration(eta)}`;
    const what = this.current ? this.current.id : k === n ? 'done' : '';
    return `${bar} ${k}/${n} ${etaText}  ${what}`;
  }

  /** Final line (always printed). */
  end(summary: string): void {
    if (!this.sink) return;
    if (this.sink.isTTY) this.sink.write(`\r\x1b[K${summary}\n`);
    else this.sink.write(`${summary}\n`);
  }

  private render(force: boolean): void {
    if (!this.sink) return;
    if (this.sink.isTTY) {
      const cols = this.sink.columns ?? 100;
      this.sink.write(`\r\x1b[K${this.line().slice(0, Math.max(20, cols - 1))}`);
      return;
    }
    // Not a terminal: one line per finished task at most every 5 s, plus the first and the last.
    const t = this.now();
    if (force || this.completed === 0 || this.completed === this.total || t - this.lastPrint > 5000) {
      if (this.current || this.completed === this.total) {
        this.sink.write(`${this.line()}\n`);
        this.lastPrint = t;
      }
    }
  }
}

export function fmtDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}
