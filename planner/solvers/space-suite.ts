// The conformance checks every search-space test runs on its real cost tables (zero-space, sp-space,
// cp-space): each backend finds brute force's optimum, and leaving dominated strategies out keeps
// it. Called from inside vitest tests; returns brute force's optima so a test can check which
// choices they use.
import { expect } from 'vitest';
import { evaluatePlacement } from '../cost-model/evaluate.ts';
import { pruneDominated } from '../cost-model/dominated-strategies.ts';
import type { CostTables, Placement } from '../cost-model/tables.ts';
import { getSolver } from './index.ts';

export interface SpaceInstance {
  name: string;
  t: CostTables;
}

export const SPACE_BACKENDS = ['exact', 'highs', 'glpk'] as const;

/** `backend` equals brute force on every instance; brute force's feasible optima. */
export async function expectBruteForceOptimum(backend: string, all: SpaceInstance[]): Promise<{ t: CostTables; placement: Placement }[]> {
  const oracle = getSolver('brute-force');
  const solver = getSolver(backend);
  const optima: { t: CostTables; placement: Placement }[] = [];
  for (const { name, t } of all) {
    const want = await oracle.solve(t, {});
    const got = await solver.solve(t, { relGap: 0 });
    expect(got.status, name).toBe(want.status === 'infeasible' ? 'infeasible' : 'optimal');
    if (want.status === 'infeasible') continue;
    expect(evaluatePlacement(t, got.placement!).feasible, name).toBe(true);
    expect(Math.abs(got.objectiveMs! - want.objectiveMs!) / want.objectiveMs!, name).toBeLessThanOrEqual(1e-6);
    optima.push({ t, placement: want.placement! });
  }
  return optima;
}

/** Brute force on the pruned tables finds the same optimum; how many strategies were pruned, and the optima. */
export async function expectPruningKeepsOptimum(all: SpaceInstance[]): Promise<{ pruned: number; optima: { t: CostTables; placement: Placement }[] }> {
  const oracle = getSolver('brute-force');
  let pruned = 0;
  const optima: { t: CostTables; placement: Placement }[] = [];
  for (const { name, t } of all) {
    const p = pruneDominated(t);
    pruned += p.pruned;
    const a = await oracle.solve(t, {});
    const b = await oracle.solve(p.tables, {});
    expect(b.status, name).toBe(a.status);
    // Only whole strategies of one layout are dropped, never the last one of a layer.
    p.tables.allowed.forEach((row, u) => expect(row.some(Boolean) || !t.allowed[u]!.some(Boolean), `${name} layer ${u}`).toBe(true));
    if (a.status === 'infeasible') continue;
    expect(Math.abs(b.objectiveMs! - a.objectiveMs!) / a.objectiveMs!, name).toBeLessThanOrEqual(1e-12);
    optima.push({ t, placement: a.placement! });
  }
  return { pruned, optima };
}
