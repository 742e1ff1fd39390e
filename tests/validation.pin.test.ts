// Pins the cost model's error on one shipped set of published measurements (torchtitan's Llama 3.1
// 8B FSDP runs on H100, tests/data/measurements/torchtitan-h100.csv), so that a change to the cost
// model that predicts these runs worse fails here. The bound is today's error plus a small margin;
// tighten it when the model improves. (Issue 9's target is MAPE <= 8%: not reached yet. The
// predictions are about 2x optimistic on these runs: 500 W H100s with 96 GB HBM2e, torchtitan's
// per-op selective recomputation, which the cost model does not express.)
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { validateRuns } from '../planner/validation/report.ts';
import { loadRuns } from '../planner/validation/runs.ts';

const file = join(resolve(import.meta.dirname, 'data/measurements'), 'torchtitan-h100.csv');

describe('validation error on a shipped measurement set', () => {
  it('torchtitan 2024-12 (Llama 3.1 8B, FSDP, 8 and 128 H100): MAPE of time per iteration stays at or below 52%', () => {
    const report = validateRuns(loadRuns(file)).find((r) => r.source === 'torchtitan-2024-12')!;
    expect(report.runs).toBe(4);
    expect(report.predicted).toBe(4);
    expect(report.mape).toBeLessThanOrEqual(0.52);
    expect(report.mape).toBeGreaterThan(0); // a real comparison, not an echo of the measurements
  });
});
