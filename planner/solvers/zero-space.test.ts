// The search space with ZeRO stages, on real cost tables (not random ones): tiny-gpt on 2 and 4 CPU
// devices, every ZeRO stage (0, 1, 2 and FSDP) per layer, both schedules, budgets from roomy to
// tight. Every backend must find brute force's optimum, and the tight budgets must make the
// optimum use ZeRO-1/2 somewhere (else the new choices would not be exercised).
import { describe, expect, it } from 'vitest';
import { localCpuCluster } from '../../configs/cluster-presets.ts';
import { loadModel } from '../../configs/model-presets.ts';
import { buildCostTables } from '../cost-model/build.ts';
import { prepareCostModel } from '../cost-model/input.ts';
import type { CostTables } from '../cost-model/tables.ts';
import { expectBruteForceOptimum, expectPruningKeepsOptimum, SPACE_BACKENDS } from './space-suite.ts';

const model = loadModel('tiny-gpt');
// The ZeRO dimension alone (sp and selective recomputation: sp-space.test.ts).
const ZERO_ONLY = { allowRecompute: false, allowSelectiveRecompute: false, allowSp: false };

function instances(): { name: string; t: CostTables }[] {
  const out: { name: string; t: CostTables }[] = [];
  for (const devices of [2, 4]) {
    const cluster = localCpuCluster(devices);
    const roomy = prepareCostModel(model, cluster, { globalBatch: 8, options: ZERO_ONLY });
    for (const stages of devices === 2 ? [1, 2] : [1, 2]) {
      for (const schedule of ['gpipe', '1f1b'] as const) {
        const base = buildCostTables(roomy, { stages, microBatches: 2, schedule });
        // The memory of the replicated optimum, then budgets just under it (sharding must pay).
        const states = base.cost.map((row) => Math.min(...row.filter((c) => Number.isFinite(c.timeMs)).map((c) => c.stateBytes + c.activationBytes + c.workspaceBytes)));
        const need = states.reduce((a, b) => a + b, 0) / stages;
        for (const f of [4, 1.1, 0.8]) {
          const input = prepareCostModel(model, cluster, { globalBatch: 8, options: { ...ZERO_ONLY, memoryBudgetBytes: f * need } });
          out.push({ name: `${devices} devices, ${stages} stage(s), ${schedule}, budget ${f}x`, t: buildCostTables(input, { stages, microBatches: 2, schedule }) });
        }
      }
    }
  }
  return out;
}

describe('search with ZeRO stages on real cost tables', () => {
  const all = instances();
  it('the tables offer ZeRO-1, ZeRO-2 and FSDP for every dp > 1', () => {
    let groups = 0;
    for (const { t } of all) {
      for (const dp of new Set(t.strategies.filter((s) => s.dp > 1).map((s) => s.dp))) {
        const same = t.strategies.filter((s) => s.dp === dp);
        expect(same.map((s) => (s.fsdp ? 3 : (s.zero ?? 0))).sort()).toEqual([0, 1, 2, 3]);
        groups++;
      }
    }
    expect(groups).toBeGreaterThan(0);
  });

  for (const backend of SPACE_BACKENDS) {
    it(`${backend} equals brute force on every instance, and tight budgets pick ZeRO-1/2`, async () => {
      const optima = await expectBruteForceOptimum(backend, all);
      expect(optima.filter(({ t, placement }) => placement.strategy.some((k) => t.strategies[k]!.zero)).length).toBeGreaterThan(0);
    }, 120_000);
  }

  it('leaving dominated strategies out (what the search does) keeps brute force\'s optimum', async () => {
    const { pruned } = await expectPruningKeepsOptimum(all);
    expect(pruned).toBeGreaterThan(0);
  });
});
