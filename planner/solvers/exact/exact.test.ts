import { describe, expect, it } from 'vitest';
import { randomTables, transformerTables } from '../random-instance.ts';
import { solveExact, nextDown, cheapBounds } from './exact.ts';
import { layerClasses } from './classes.ts';
import { solveHighs } from '../highs.ts';
import { bruteForceSolver } from '../brute-force.ts';
import { evaluatePlacement } from '../../cost-model/evaluate.ts';

const GiB = 1024 ** 3;
const llamaLike = (blocks: number, stages: number, schedule: 'gpipe' | '1f1b', g = 4) =>
  transformerTables(3, {
    blocks,
    stages,
    microBatches: 4,
    devicesPerStage: g,
    schedule,
    blockParams: 0.2e9,
    blockActivationBytesPerSample: 1.5e9,
    microBatchSize: 4,
    memoryBudgetBytes: 14 * GiB,
  });

describe('exact solver', () => {
  it('nextDown is the largest double below', () => {
    expect(nextDown(1)).toBeLessThan(1);
    expect(nextDown(1)).toBe(1 - 2 ** -53);
    expect(nextDown(3.5) < 3.5 && (nextDown(3.5) + 3.5) / 2 >= nextDown(3.5)).toBe(true);
  });

  it('finds runs of identical blocks and out-classes by data-parallel degree', () => {
    const t = llamaLike(6, 2, '1f1b');
    const cl = layerClasses(t);
    expect([cl.runStart[3], cl.runEnd[3]]).toEqual([1, 6]); // blocks 1..6 between embedding 0 and head 7
    expect([cl.runStart[0], cl.runEnd[0], cl.runStart[7], cl.runEnd[7]]).toEqual([0, 0, 7, 7]);
    const dps = new Set(t.strategies.map((s) => s.dp)).size;
    expect(cl.outReps[3]!.length).toBe(dps);
    expect(cl.inMembers[3]!.length).toBe(dps);
  });

  it('matches HiGHS with gap 0 on a transformer-shaped instance (run aggregation active)', async () => {
    // (HiGHS needs seconds on the GPipe variant of this 6-layer instance: one schedule keeps the test fast)
    for (const schedule of ['1f1b'] as const) {
      const t = llamaLike(4, 2, schedule, 4);
      const ex = await solveExact(t);
      const hi = await solveHighs(t, { relGap: 0 });
      expect(ex.status).toBe('optimal');
      expect(hi.status).toBe('optimal');
      expect(Math.abs(ex.objectiveMs! - hi.objectiveMs!) / hi.objectiveMs!).toBeLessThanOrEqual(1e-6);
    }
  });

  it('proves a cutoff when nothing beats upperBoundMs, and still finds the optimum just above it', async () => {
    const t = randomTables(41, { layers: 6, stages: 3, strategies: 3, tightness: 0.8 });
    const bf = await bruteForceSolver.solve(t);
    expect(bf.status).toBe('optimal');
    const cut = await solveExact(t, { upperBoundMs: bf.objectiveMs! });
    expect(cut.status).toBe('cutoff');
    expect(cut.placement).toBeUndefined();
    expect(cut.boundMs).toBeGreaterThanOrEqual(bf.objectiveMs! * (1 - 1e-12));
    const above = await solveExact(t, { upperBoundMs: bf.objectiveMs! * 1.001 });
    expect(above.status).toBe('optimal');
    expect(above.objectiveMs).toBeCloseTo(bf.objectiveMs!, 9);
  });

  it('keeps a given incumbent when it is optimal and improves a worse one', async () => {
    const t = randomTables(43, { layers: 7, stages: 2, strategies: 3, tightness: 0.9 });
    const bf = await bruteForceSolver.solve(t);
    const same = await solveExact(t, { incumbent: bf.placement! });
    expect(same.objectiveMs).toBeCloseTo(bf.objectiveMs!, 9);
    expect(same.status).toBe('optimal');
  });

  it('cheap bounds (plain and memory-aware) never exceed the optimum, and are infinite (not NaN) when nothing fits', async () => {
    let memoryAware = 0;
    for (let s = 0; s < 60; s++) {
      const t = randomTables(700 + s, { layers: 5, stages: 1 + (s % 3), strategies: 3, tightness: (s % 4) / 3 });
      const lb = cheapBounds(t);
      if (lb.sumLbMs > lb.plainSumLbMs) memoryAware++;
      const bf = await bruteForceSolver.solve(t);
      if (bf.status !== 'optimal') continue;
      expect(lb.tpiLbMs, `seed ${s}`).toBeLessThanOrEqual(bf.objectiveMs! * (1 + 1e-12));
    }
    expect(memoryAware).toBeGreaterThan(5);
    const t = randomTables(1, { layers: 4, stages: 2, strategies: 2, microBatches: 1 });
    t.memoryBudgetBytes = 0;
    expect(cheapBounds(t).tpiLbMs).toBe(Infinity);
  });

  it('with fixedStageStart optimizes the strategies of that split exactly (the Galvatron-style baseline)', async () => {
    for (let s = 0; s < 30; s++) {
      const t = randomTables(1300 + s, { layers: 6, stages: 3, strategies: 3, tightness: 0.6 + (s % 5) / 10 });
      const split = [0, 2, 4];
      const ex = await solveExact(t, { fixedStageStart: split });
      // brute force over strategies on this split
      let best = Infinity;
      const opts = t.allowed.map((r) => r.flatMap((ok, k) => (ok ? [k] : [])));
      const idx = new Array<number>(6).fill(0);
      for (;;) {
        const ev = evaluatePlacement(t, { stageStart: split, strategy: idx.map((j, u) => opts[u]![j]!) });
        if (ev.feasible) best = Math.min(best, ev.timePerIterationMs);
        let u = 5;
        while (u >= 0 && idx[u] === opts[u]!.length - 1) idx[u--] = 0;
        if (u < 0) break;
        idx[u]!++;
      }
      if (best === Infinity) expect(ex.status, `seed ${s}`).toBe('infeasible');
      else {
        expect(ex.placement!.stageStart).toEqual(split);
        expect(ex.objectiveMs!, `seed ${s}`).toBeCloseTo(best, 9);
      }
    }
  });
});
