// The progress line: counts, what is being measured, and an ETA from the rate of finished tasks of
// the same kind (a clock is passed in, so the numbers are exact).
import { describe, expect, it } from 'vitest';
import type { LinkTask } from './tasks.ts';
import { fmtDuration, ProgressTracker } from './progress.ts';

const link = (id: string, bytes: number): LinkTask => ({
  id,
  kind: 'link',
  collective: 'all-reduce',
  groupSize: 2,
  nodes: 1,
  bytes,
  warmup: 0,
  minReps: 1,
  maxReps: 1,
  budgetMs: 0,
});

describe('ProgressTracker', () => {
  it('estimates the time left from finished tasks of the same kind, weighted by size', () => {
    let t = 0;
    const lines: string[] = [];
    const p = new ProgressTracker([link('a', 64 * 1024), link('b', 64 * 1024), link('c', 448 * 1024)], { write: (s) => lines.push(s), isTTY: false }, () => t);
    expect(p.etaMs()).toBeUndefined();
    p.start('a');
    t = 1000;
    p.finish('a');
    // Weights: (1 rep) * (64 KiB + bytes): a and b weigh 128 KiB, c 512 KiB; a took 1 s for 128 KiB.
    expect(p.etaMs()).toBeCloseTo(1000 + 4000);
    p.start('b');
    t = 1500;
    expect(p.etaMs()).toBeCloseTo(5000 - 500);
    expect(p.line()).toMatch(/^\[#{8}\.{16}\] 1\/3 ETA 5s {2}b$/);
    p.finish('b');
    p.start('c');
    p.finish('c');
    expect(p.completed).toBe(3);
    expect(lines.at(-1)).toMatch(/3\/3 ETA 0s {2}done/);
  });

  it('redraws one line on a terminal', () => {
    const out: string[] = [];
    const p = new ProgressTracker([link('a', 1)], { write: (s) => out.push(s), isTTY: true, columns: 80 }, () => 0);
    p.start('a');
    expect(out[0]!.startsWith('\r\x1b[K[')).toBe(true);
    p.end('finished');
    expect(out.at(-1)).toBe('\r\x1b[Kfinished\n');
  });

  it('formats durations', () => {
    expect(fmtDuration(59_400)).toBe('59s');
    expect(fmtDuration(61_000)).toBe('1m01s');
    expect(fmtDuration(3_660_000)).toBe('1h01m');
  });
});
