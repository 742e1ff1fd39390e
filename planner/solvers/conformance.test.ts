// The shared conformance suite: every Solver backend runs the same cases against brute
// force on seeded random instances (layers <= 8, stages <= 4, strategies <= 4, both schedules, tight
// and loose memory, repeated layers and shared rows). Instance counts per backend follow their speed;
// a smaller size range states its reason.
import { describe, expect, it } from 'vitest';
import type { CostTables } from '../cost-model/tables.ts';
import { evaluatePlacement } from '../cost-model/evaluate.ts';
import { randomTables, Rng } from './random-instance.ts';
import { bruteForceCount, bruteForceSolver } from './brute-force.ts';
import { getSolver } from './index.ts';
import type { SolveOptions, SolveResult } from './types.ts';

interface Case {
  seed: number;
  t: CostTables;
}

function cases(seed: number, n: number, max: { layers: number; stages: number; strategies: number }): Case[] {
  const rng = new Rng(seed);
  const out: Case[] = [];
  for (let s = seed; out.length < n; s++) {
    const L = rng.int(1, max.layers);
    const d = rng.int(1, Math.min(max.stages, L));
    const K = rng.int(1, max.strategies);
    const t = randomTables(s, {
      layers: L,
      stages: d,
      strategies: K,
      schedule: s % 2 ? 'gpipe' : '1f1b',
      repeatLayers: rng.chance(0.5),
      sharedRows: rng.chance(0.5),
      tightness: rng.chance(0.1) ? 0 : 0.2 + 0.8 * rng.next(),
    });
    if (bruteForceCount(t) > 20_000) continue; // keep the oracle fast
    out.push({ seed: s, t });
  }
  return out;
}

const oracle = new Map<CostTables, SolveResult>();
async function truth(t: CostTables): Promise<SolveResult> {
  let r = oracle.get(t);
  if (!r) {
    r = await bruteForceSolver.solve(t);
    oracle.set(t, r);
  }
  return r;
}

interface Backend {
  name: string;
  instances: number;
  max: { layers: number; stages: number; strategies: number };
  opts: SolveOptions;
  /** Why this backend runs fewer or smaller instances than exact, if it does. */
  reason?: string;
  /** May answer 'feasible' (no bound) where others answer 'optimal'. */
  unproven?: boolean;
  /** Why the comparison with brute force is skipped, if it is. */
  skipComparison?: string;
}

const FULL = { layers: 8, stages: 4, strategies: 4 };
const BACKENDS: Backend[] = [
  { name: 'exact', instances: 500, max: FULL, opts: {} },
  { name: 'brute-force', instances: 0, max: FULL, opts: {}, skipComparison: 'brute force is the oracle the others are compared with' },
  { name: 'glpk', instances: 120, max: FULL, opts: { relGap: 0 }, reason: '~20 ms per solve' },
  { name: 'highs', instances: 50, max: FULL, opts: { relGap: 0 }, reason: '~0.15 s per solve' },
  {
    name: 'lp-solver',
    instances: 60,
    max: { layers: 5, stages: 3, strategies: 3 },
    opts: { timeLimitMs: 20_000 },
    reason: 'javascript-lp-solver ignores its own timeout and ran for minutes on a 7-layer, 4-stage, 4-strategy instance',
    unproven: true,
  },
];

for (const b of BACKENDS) {
  describe(`solver conformance: ${b.name}`, () => {
    const solver = getSolver(b.name);
    const mine = cases(10_000 + b.name.length * 1000, b.instances, b.max);

    const title = b.skipComparison
      ? `equals brute force (skipped: ${b.skipComparison})`
      : `equals brute force on ${b.instances} random instances${b.reason ? ` (${b.reason})` : ''}`;
    it.skipIf(b.skipComparison !== undefined)(title, async () => {
      let feasible = 0;
      for (const { seed, t } of mine) {
        const want = await truth(t);
        const got = await solver.solve(t, b.opts);
        const where = `seed ${seed} (${t.layers} layers, ${t.stages} stages, ${t.strategies.length} strategies, ${t.schedule})`;
        if (want.status === 'infeasible') {
          expect(got.status, where).toBe('infeasible');
          expect(got.placement, where).toBeUndefined();
          continue;
        }
        feasible++;
        expect(got.status, where).toBe(b.unproven ? 'feasible' : 'optimal');
        expect(got.placement, where).toBeDefined();
        const ev = evaluatePlacement(t, got.placement!);
        expect(ev.feasible, where).toBe(true);
        expect(got.objectiveMs, where).toBe(ev.timePerIterationMs);
        expect(Math.abs(got.objectiveMs! - want.objectiveMs!) / want.objectiveMs!, where).toBeLessThanOrEqual(1e-6);
        if (!b.unproven) expect(got.boundMs, where).toBeLessThanOrEqual(got.objectiveMs! + 1e-9);
      }
      // the generator must produce both kinds
      expect(feasible).toBeGreaterThan(mine.length / 2);
      expect(feasible).toBeLessThan(mine.length);
    });

    it('reports infeasible when one layer has no allowed strategy', async () => {
      const t = randomTables(7, { layers: 4, stages: 2, strategies: 3, tightness: 1 });
      t.allowed[2] = t.allowed[2]!.map(() => false);
      const r = await solver.solve(t, b.opts);
      expect(r.status).toBe('infeasible');
    });

    it('reports infeasible when the memory budget is below every layer', async () => {
      const t = randomTables(8, { layers: 4, stages: 2, strategies: 3, tightness: 0 });
      t.memoryBudgetBytes = 0;
      const r = await solver.solve(t, b.opts);
      expect(r.status).toBe('infeasible');
    });

    it('finds a single-stage, single-strategy optimum exactly', async () => {
      const t = randomTables(9, { layers: 3, stages: 1, strategies: 1, microBatches: 4, tightness: 1 });
      t.memoryBudgetBytes = Number.MAX_SAFE_INTEGER;
      t.allowed = t.allowed.map(() => [true]);
      const r = await solver.solve(t, b.opts);
      const p = { stageStart: [0], strategy: [0, 0, 0] };
      expect(r.objectiveMs).toBeCloseTo(evaluatePlacement(t, p).timePerIterationMs, 9);
    });
  });
}
