// What `uniap launch` prints while a job runs: a progress bar of iterations with loss, throughput and
// predicted-vs-measured time per iteration, state changes, and the end. Formatting is pure
// (`formatStepLine`); `ProgressPrinter` decides what to write where (a TTY line rewritten in place, or
// plain lines) and keeps each rank's last log lines to show when the job fails.
import type { Failure, JobEvent, StepSummary } from './types.ts';

export interface ProgressContext {
  steps: number;
  predictedTimePerIterationMs: number | null;
}

function compact(n: number): string {
  if (!Number.isFinite(n)) return '-';
  if (n >= 1e9) return `${(n / 1e9).toFixed(1)}G`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (n >= 1e4) return `${(n / 1e3).toFixed(1)}k`;
  if (n >= 100) return n.toFixed(0);
  return n.toFixed(1);
}

export function formatMs(ms: number): string {
  return ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${ms.toFixed(ms >= 100 ? 0 : 1)} ms`;
}

export function bar(done: number, total: number, width = 20): string {
  const filled = total > 0 ? Math.min(width, Math.round((done / total) * width)) : 0;
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
}

/** "[#####...] step 5/20  loss 7.1234  1.2k tok/s  3.4 samples/s  iter 812 ms (predicted 640 ms, 1.27x)" */
export function formatStepLine(s: StepSummary, ctx: ProgressContext): string {
  const parts = [`${bar(s.step, ctx.steps)} step ${s.step}/${ctx.steps}`];
  parts.push(s.loss === null ? 'loss -' : `loss ${s.loss.toFixed(4)}`);
  parts.push(`${compact(s.tokensPerSecond)} tok/s`, `${compact(s.samplesPerSecond)} samples/s`);
  let iter = `iter ${formatMs(s.timePerIterationMs)}`;
  if (ctx.predictedTimePerIterationMs !== null && ctx.predictedTimePerIterationMs > 0) {
    iter += ` (predicted ${formatMs(ctx.predictedTimePerIterationMs)}, ${(s.timePerIterationMs / ctx.predictedTimePerIterationMs).toFixed(2)}x)`;
  }
  parts.push(iter);
  if (s.exposedCommMs > 0) parts.push(`exposed comm ${formatMs(s.exposedCommMs)}`);
  return parts.join('  ');
}

export function formatFailure(f: Failure): string {
  return `${f.code}: ${f.message}`;
}

export interface PrinterOptions {
  out: NodeJS.WritableStream & { isTTY?: boolean };
  /** Print every executor log line as it comes (else only the last ones of a failed job). */
  verbose: boolean;
  /** Machine-readable: every event as one JSON line, nothing else. */
  json: boolean;
}

const KEEP_LOG_LINES = 8;
/** Plain (non-TTY) output prints about this many step lines over a job, plus the last. */
const PLAIN_STEP_LINES = 50;

export class ProgressPrinter {
  private readonly logs = new Map<number, string[]>();
  private lineOpen = false;
  private steps: StepSummary[] = [];

  constructor(
    private readonly o: PrinterOptions,
    private readonly ctx: ProgressContext,
  ) {}

  private write(line: string): void {
    if (this.lineOpen) {
      this.o.out.write('\n');
      this.lineOpen = false;
    }
    this.o.out.write(`${line}\n`);
  }

  note(line: string): void {
    if (!this.o.json) this.write(line);
  }

  event(e: JobEvent): void {
    if (this.o.json) {
      this.o.out.write(`${JSON.stringify(e)}\n`);
      return;
    }
    const b = e.body;
    switch (b.kind) {
      case 'state':
        if (b.to !== 'running' || b.from !== 'starting') this.write(`job ${b.to}: ${b.reason}`);
        return;
      case 'step': {
        this.steps.push(b.summary);
        const line = formatStepLine(b.summary, this.ctx);
        if (this.o.out.isTTY) {
          this.o.out.write(`\r\x1b[2K${line}`);
          this.lineOpen = true;
        } else {
          const every = Math.max(1, Math.ceil(this.ctx.steps / PLAIN_STEP_LINES));
          if (b.summary.step % every === 0 || b.summary.step === this.ctx.steps || b.summary.step === 1) this.write(line);
        }
        return;
      }
      case 'checkpoint':
        if (this.o.verbose) this.write(`checkpoint of step ${b.step} saved (${b.path})`);
        return;
      case 'log': {
        const kept = this.logs.get(b.rank) ?? [];
        kept.push(b.line);
        if (kept.length > KEEP_LOG_LINES) kept.shift();
        this.logs.set(b.rank, kept);
        if (this.o.verbose) this.write(`[rank ${b.rank} ${b.workerId}] ${b.line}`);
        return;
      }
      case 'result':
        if (b.state === 'failed' && b.failure) {
          const rank = b.failure.rank;
          const lines = rank !== null ? (this.logs.get(rank) ?? []) : [];
          if (lines.length > 0 && !this.o.verbose) {
            this.write(`last log lines of rank ${rank}:`);
            for (const l of lines) this.write(`  ${l}`);
          }
        }
        if (this.lineOpen) {
          this.o.out.write('\n');
          this.lineOpen = false;
        }
        return;
    }
  }

  /** One line summing up the iterations seen: final loss, mean iteration time vs the prediction. */
  summary(): string | null {
    if (this.steps.length === 0) return null;
    const last = this.steps[this.steps.length - 1]!;
    // The first iteration carries warm-up (allocation, first collectives); leave it out when there are more.
    const timed = this.steps.length > 1 ? this.steps.slice(1) : this.steps;
    const meanMs = timed.reduce((s, x) => s + x.timePerIterationMs, 0) / timed.length;
    const p = this.ctx.predictedTimePerIterationMs;
    const vs = p !== null && p > 0 ? ` (predicted ${formatMs(p)}, measured/predicted ${(meanMs / p).toFixed(2)}x)` : '';
    const unique = new Set(this.steps.map((x) => x.step)).size;
    const repeated = this.steps.length - unique;
    return `${unique} iterations${repeated > 0 ? ` (+${repeated} repeated after restarts)` : ''}, final loss ${last.loss === null ? '-' : last.loss.toFixed(4)}, mean iteration ${formatMs(meanMs)}${vs}, ${compact(last.tokensPerSecond)} tok/s`;
  }
}
