// Step E0 and the column-grouped label step on the full 2026 space (ZeRO 0-3 x recomputation none /
// selective / full x sp), where a layer has 24+ strategies: the seed keeps every layout, and the
// optimum with the seed equals the optimum without it and HiGHS's on one stage.
import { describe, expect, it } from 'vitest';
import { localCpuCluster } from '../../../configs/cluster-presets.ts';
import { loadModel } from '../../../configs/model-presets.ts';
import { buildCostTables } from '../../cost-model/build.ts';
import { prepareCostModel } from '../../cost-model/input.ts';
import { solveHighs } from '../highs.ts';
import { solveExact } from './exact.ts';
import { seedTables, SEED_MIN_STRATEGIES } from './seed.ts';
import { layoutKey } from '../../strategy.ts';

const layout = layoutKey;

describe('exact solver seed (step E0)', () => {
  const model = loadModel('tiny-gpt');
  const cases = [
    { devices: 4, stages: 1, microBatches: 2 },
    { devices: 8, stages: 2, microBatches: 4 },
  ];
  for (const { devices, stages, microBatches } of cases) {
    it(`${devices} devices, ${stages} stage(s): the seed keeps every layout, and the optimum is unchanged by it`, async () => {
      const cluster = localCpuCluster(devices);
      const roomy = prepareCostModel(model, cluster, { globalBatch: 16 });
      const base = buildCostTables(roomy, { stages, microBatches, schedule: '1f1b' });
      expect(Math.max(...base.allowed.map((r) => r.filter(Boolean).length))).toBeGreaterThanOrEqual(SEED_MIN_STRATEGIES);
      const seed = seedTables(base)!;
      base.allowed.forEach((row, u) => {
        const layouts = (r: boolean[]) => new Set(r.flatMap((ok, k) => (ok ? [layout(base.strategies[k]!)] : [])));
        expect(layouts(seed.allowed[u]!)).toEqual(layouts(row));
        expect(seed.allowed[u]!.filter(Boolean).length).toBeLessThanOrEqual(2 * layouts(row).size);
      });
      // A roomy and a tight budget (under the fastest plan's memory, so memory-saving choices must pay).
      const need = Math.max(...base.cost.map((row, u) => Math.max(...row.filter((_, k) => base.allowed[u]![k]).map((c) => c.stateBytes + 2 * c.activationBytes + c.workspaceBytes))));
      for (const budget of [undefined, 0.5 * need * (model.layers.length / stages)]) {
        const input = budget ? prepareCostModel(model, cluster, { globalBatch: 16, options: { memoryBudgetBytes: budget } }) : roomy;
        const t = buildCostTables(input, { stages, microBatches, schedule: '1f1b' });
        const seeded = await solveExact(t);
        const plain = await solveExact(t, { seed: false });
        expect(seeded.status).toBe(plain.status);
        if (!budget) expect(plain.status).toBe('optimal');
        if (plain.status !== 'optimal') continue;
        expect(seeded.objectiveMs).toBeCloseTo(plain.objectiveMs!, 9);
        if (stages === 1) {
          const milp = await solveHighs(t);
          expect(milp.status).toBe('optimal');
          expect(seeded.objectiveMs).toBeCloseTo(milp.objectiveMs!, 6);
        }
      }
    }, 60_000);
  }
});
