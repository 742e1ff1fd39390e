import { describe, expect, it } from 'vitest';
import { randomTables, Rng } from './random-instance.ts';
import { buildMilp } from './milp-model.ts';
import { checkAssignment } from './lp-model.ts';
import { toLpText } from './lp-format.ts';
import { evaluatePlacement } from '../cost-model/evaluate.ts';
import type { CostTables, Placement } from '../cost-model/tables.ts';

function randomPlacement(t: CostTables, rng: Rng): Placement {
  const cuts = new Set<number>();
  while (cuts.size < t.stages - 1) cuts.add(rng.int(1, t.layers - 1));
  const stageStart = [0, ...[...cuts].sort((a, b) => a - b)];
  const strategy = t.allowed.map((row) => {
    const ok = row.flatMap((x, k) => (x ? [k] : []));
    return ok[rng.int(0, ok.length - 1)]!;
  });
  return { stageStart, strategy };
}

describe('boundary-form MILP (docs/planner.md M1-M11)', () => {
  it('every placement encodes to a point satisfying all rows whose objective is its TPI, and decodes back', () => {
    const rng = new Rng(5);
    for (let s = 0; s < 150; s++) {
      const L = rng.int(1, 9);
      const t = randomTables(500 + s, { layers: L, stages: rng.int(1, Math.min(4, L)), strategies: rng.int(1, 4), repeatLayers: rng.chance(0.5) });
      t.memoryBudgetBytes = 1e15; // memory rows are checked separately below
      const m = buildMilp(t);
      const p = randomPlacement(t, rng);
      const x = m.encode(p);
      const { objective, maxViolation } = checkAssignment(m.lp, x);
      expect(maxViolation, `seed ${s}`).toBeLessThanOrEqual(1e-9);
      const tpi = evaluatePlacement(t, p).timePerIterationMs;
      expect(Math.abs(objective - tpi) / Math.max(1, tpi), `seed ${s}`).toBeLessThanOrEqual(1e-12);
      const back = m.decode((id) => x[id]!);
      expect(back.fractionality).toBe(0);
      expect(back.placement).toEqual(p);
    }
  });

  it('the memory row of a stage binds exactly when evaluatePlacement says it overflows', () => {
    const rng = new Rng(6);
    let over = 0;
    for (let s = 0; s < 100; s++) {
      const t = randomTables(900 + s, { layers: 6, stages: 3, strategies: 3 });
      const p = randomPlacement(t, rng);
      const m = buildMilp(t);
      const { maxViolation } = checkAssignment(m.lp, m.encode(p));
      const ev = evaluatePlacement(t, p);
      if (!ev.feasible) over++;
      expect(maxViolation > 1e-6, `seed ${s}`).toBe(!ev.feasible);
    }
    expect(over).toBeGreaterThan(10);
  });

  it('fixes the (layer, stage) pairs the layer counts decide and writes valid LP text', () => {
    const t = randomTables(1, { layers: 5, stages: 3, strategies: 2 });
    const m = buildMilp(t);
    const fixed = m.lp.vars.filter((v) => v.name.startsWith('E_') && v.lb === v.ub).map((v) => `${v.name}=${v.lb}`);
    // layer 0 is on stage 0, layer 4 on stage 2; layer 1 cannot be on stage 2, layer 3 not on stage 0
    expect(fixed).toEqual(expect.arrayContaining(['E_0_1=0', 'E_0_2=0', 'E_1_2=0', 'E_3_1=1', 'E_4_1=1', 'E_4_2=1']));
    const text = toLpText(m.lp);
    expect(text).toMatch(/^Minimize/m);
    expect(text).toMatch(/^Binary/m);
    expect(text).toMatch(/E_4_2 = 1/);
  });
});
