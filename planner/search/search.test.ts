import { describe, expect, it } from 'vitest';
import { loadModel } from '../../configs/model-presets.ts';
import { resolveCluster } from '../../configs/cluster-resolve.ts';
import { isUniapError, type UniapError } from '../../common/errors.ts';
import { prepareCostModel, type CostModelInput } from '../cost-model/input.ts';
import { buildCostTables } from '../cost-model/build.ts';
import { estimatePlan } from '../estimate.ts';
import { parsePlan } from '../plan-io.ts';
import { bruteForceSolver } from '../solvers/brute-force.ts';
import { pruneDominated } from '../cost-model/dominated-strategies.ts';
import { searchPlan, type SearchProgress } from './search.ts';
import { configurations } from './configurations.ts';
import { leastMemory } from './infeasible.ts';
import { minPeakMemory } from './min-memory.ts';

// Two H100s in one node: small enough for brute force over every configuration.
const twoGpus = resolveCluster(
  { name: 'test-2xh100', nodes: [{ count: 1, deviceType: 'H100-SXM', devices: 2, intraNodeLink: { kind: 'nvlink', bandwidthGBps: 450 } }] },
  'test',
);
function tiny(options: { memoryBudgetBytes?: number } = {}, batch = 4): CostModelInput {
  return prepareCostModel(loadModel('tiny-gpt'), twoGpus, { globalBatch: batch, options });
}

/** The least memory per device any tiny-gpt configuration needs. */
function need(): number {
  return leastMemory(tiny({ memoryBudgetBytes: 1 }), {})!.bytes;
}

/** A budget between the least and the most any configuration needs, `at` of the way up. */
function middleBudget(at = 0.5): number {
  const input = tiny({ memoryBudgetBytes: 1 });
  const needs = configurations(input).map((c) => minPeakMemory(buildCostTables(input, c)).bytes);
  return Math.min(...needs) + at * (Math.max(...needs) - Math.min(...needs));
}

async function errorOf(p: Promise<unknown>): Promise<UniapError> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  if (!isUniapError(e)) throw new Error(`expected a UniapError, got ${String(e)}`);
  return e;
}

describe('searchPlan (Algorithm 1 with bounds)', () => {
  it('returns the best plan over every configuration, equal to brute force, proven optimal', async () => {
    // a budget between the least and the most any configuration needs: memory binds for some
    const input = tiny({ memoryBudgetBytes: middleBudget() });
    const r = await searchPlan(input);
    let truth = Infinity;
    let infeasible = 0;
    for (const config of configurations(input)) {
      // Dominated strategies left out (they never change the optimum: zero-space.test.ts, sp-space.test.ts).
      const b = await bruteForceSolver.solve(pruneDominated(buildCostTables(input, config)).tables);
      if (b.status === 'optimal') truth = Math.min(truth, b.objectiveMs!);
      else infeasible++;
    }
    expect(infeasible).toBeGreaterThan(0);
    expect(Number.isFinite(truth)).toBe(true);
    expect(Math.abs(r.plan.predictions!.timePerIterationMs - truth) / truth).toBeLessThanOrEqual(1e-9);
    expect(r.search.status).toBe('optimal');
    expect(r.search.method).toBe('exact');
    expect(r.search.gap).toBe(0);
    expect(r.search.configurationsTried + r.search.configurationsPruned).toBe(configurations(input).length);
    expect(r.outcomes.length).toBe(configurations(input).length);
  });

  it("the plan's prediction equals `estimate` on its JSON", async () => {
    const input = tiny();
    const r = await searchPlan(input);
    const back = parsePlan(JSON.parse(JSON.stringify(r.plan)), 'plan.json');
    const est = estimatePlan(input, back);
    expect(est.feasible).toBe(true);
    expect(est.timePerIterationMs).toBe(r.plan.predictions!.timePerIterationMs);
    expect(est.predictions.memoryPerStageBytes).toEqual(r.plan.predictions!.memoryPerStageBytes);
  });

  it('with --solver highs, HiGHS solves the MIQP warm-started by exact and agrees', async () => {
    // A tight budget, where the Megatron-uniform incumbent is not already optimal, so HiGHS runs.
    const input = tiny({ memoryBudgetBytes: middleBudget(0.25) });
    const ex = await searchPlan(input);
    const hi = await searchPlan(input, { solver: 'highs' });
    expect(hi.search.method).toBe('highs-miqp');
    expect(hi.search.status).toBe('optimal');
    expect(Math.abs(hi.plan.predictions!.timePerIterationMs - ex.plan.predictions!.timePerIterationMs)).toBeLessThanOrEqual(1e-6 * ex.plan.predictions!.timePerIterationMs);
  });

  it('honours --stages / --micro-batches / --schedule and reports progress', async () => {
    const seen: SearchProgress[] = [];
    const r = await searchPlan(tiny({}, 8), { stages: [2], microBatches: [4], schedule: 'gpipe', onProgress: (p) => seen.push(p) });
    expect(r.plan.pipelineDegree).toBe(2);
    expect(r.plan.microBatches).toBe(4);
    expect(r.plan.schedule).toBe('gpipe');
    expect(seen.at(-1)?.done).toBe(seen.at(-1)?.total);
    const e = await errorOf(searchPlan(tiny(), { stages: [3] }));
    expect(e.code).toBe('DEGREE_MISMATCH');
    expect(e.message).toMatch(/divisor of 2/);
  });

  it('infeasible: names memory as the binding constraint and the least memory that fits, which does fit', async () => {
    const need = leastMemory(tiny({ memoryBudgetBytes: 1 }), {})!;
    const e = await errorOf(searchPlan(tiny({ memoryBudgetBytes: need.bytes * 0.8 })));
    expect(e.code).toBe('INFEASIBLE');
    expect(e.detail.binding).toBe('memory');
    expect(e.message).toMatch(/memory per device is the binding constraint/);
    expect(e.message).toMatch(/--memory-gb/);
    expect(e.message).toMatch(/4 devices|8 devices|16 devices/); // more devices of the same type fit
    expect(e.detail.neededBytes).toBeCloseTo(need.bytes, -1);
    // the reported need is tight: a budget just above it yields a plan
    const ok = await searchPlan(tiny({ memoryBudgetBytes: need.bytes * 1.000001 }));
    expect(ok.plan.predictions!.memoryPerStageBytes.every((m) => m <= need.bytes * 1.000001)).toBe(true);
  });
});
