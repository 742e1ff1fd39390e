import { describe, expect, it } from 'vitest';
import { randomTables } from './random-instance.ts';
import { verifySolveResult } from './verify.ts';
import { evaluatePlacement } from '../cost-model/evaluate.ts';
import { isUniapError } from '../../common/errors.ts';
import type { SolveResult } from './types.ts';

function t0() {
  const t = randomTables(3, { layers: 4, stages: 2, strategies: 2, tightness: 1 });
  t.allowed = t.allowed.map((r) => r.map(() => true));
  t.memoryBudgetBytes = Number.MAX_SAFE_INTEGER;
  return t;
}
const good = { stageStart: [0, 2], strategy: [0, 1, 0, 1] };
const base: SolveResult = { status: 'optimal', boundMs: 0, gap: 1, method: 'fake' };

function code(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return isUniapError(e) ? e.code : 'other';
  }
  return undefined;
}

describe('verifySolveResult', () => {
  it('accepts a correct answer and replaces the objective with the re-evaluated one', () => {
    const t = t0();
    const obj = evaluatePlacement(t, good).timePerIterationMs;
    const r = verifySolveResult(t, { ...base, placement: good, objectiveMs: obj * (1 + 1e-9) }, obj * (1 + 1e-9));
    expect(r.objectiveMs).toBe(obj);
    expect(r.gap).toBe(1);
  });

  it('rejects an objective claimed below what the plan takes', () => {
    const t = t0();
    const obj = evaluatePlacement(t, good).timePerIterationMs;
    expect(code(() => verifySolveResult(t, { ...base, placement: good }, obj * 0.9))).toBe('SOLVER_FAILED');
  });

  it('rejects a bound above the plan', () => {
    const t = t0();
    const obj = evaluatePlacement(t, good).timePerIterationMs;
    expect(code(() => verifySolveResult(t, { ...base, placement: good, boundMs: obj * 1.1 }))).toBe('SOLVER_FAILED');
  });

  it('rejects empty stages, disallowed strategies and memory violations', () => {
    const t = t0();
    expect(code(() => verifySolveResult(t, { ...base, placement: { stageStart: [0, 0], strategy: [0, 0, 0, 0] } }))).toBe('SOLVER_FAILED');
    expect(code(() => verifySolveResult(t, { ...base, placement: { stageStart: [0, 2], strategy: [0, 5, 0, 0] } }))).toBe('SOLVER_FAILED');
    const t2 = t0();
    t2.allowed[1]![1] = false;
    expect(code(() => verifySolveResult(t2, { ...base, placement: good }))).toBe('SOLVER_FAILED');
    const t3 = t0();
    t3.memoryBudgetBytes = 1;
    expect(code(() => verifySolveResult(t3, { ...base, placement: good }))).toBe('SOLVER_FAILED');
  });

  it('rejects a placement attached to an infeasible status', () => {
    expect(code(() => verifySolveResult(t0(), { ...base, status: 'infeasible', placement: good }))).toBe('SOLVER_FAILED');
  });
});
