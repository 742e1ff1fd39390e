// The search space with context parallelism (Ulysses), on real cost tables: tiny-gpt on 4 CPU devices
// at 512 tokens and a micro-batch of 1-2 samples (too few rows for dp to take every rank, where cp is offered:
// planner/cost-model/build.ts), one and two stages, both schedules, budgets from roomy to tight.
// Every backend must find brute force's optimum; leaving dominated strategies out must not change it;
// the optima must use cp somewhere. ZeRO, FSDP, sp and selective recomputation are left out here to
// keep brute force small (zero-space.test.ts and sp-space.test.ts cover them; the CLI test searches
// everything together).
import { describe, expect, it } from 'vitest';
import { localCpuCluster } from '../../configs/cluster-presets.ts';
import { loadModel } from '../../configs/model-presets.ts';
import { buildCostTables } from '../cost-model/build.ts';
import { prepareCostModel } from '../cost-model/input.ts';
import type { CostTables } from '../cost-model/tables.ts';
import { cpDegree } from '../strategy.ts';
import { expectBruteForceOptimum, expectPruningKeepsOptimum, SPACE_BACKENDS } from './space-suite.ts';

// 4 heads: cp 2 and 4 at tp 1, cp 2 at tp 2; 512 tokens, so activations (which cp splits and tp
// partly replicates) weigh against the all-to-alls
const model = loadModel('tiny-gpt', 512);
const CP_SPACE = { allowZero: false, allowFsdp: false, allowRecompute: true, allowSelectiveRecompute: false, allowSp: false, maxCp: 4 };

function instances(): { name: string; t: CostTables }[] {
  const out: { name: string; t: CostTables }[] = [];
  for (const [devices, stages, microBatches] of [[4, 1, 4], [4, 1, 2], [4, 2, 2]] as const) {
    const cluster = localCpuCluster(devices);
    const roomy = prepareCostModel(model, cluster, { globalBatch: 4, options: CP_SPACE });
    for (const schedule of ['gpipe', '1f1b'] as const) {
      if (stages === 1 && schedule === 'gpipe') continue;
      const base = buildCostTables(roomy, { stages, microBatches, schedule });
      const fastest = base.cost.map((row, u) => {
        const ok = row.filter((_, k) => base.allowed[u]![k]);
        const best = ok.reduce((a, c) => (c.timeMs < a.timeMs ? c : a));
        return best.stateBytes + microBatches * best.activationBytes + best.workspaceBytes;
      });
      const need = fastest.reduce((a, b) => a + b, 0) / stages;
      for (const f of [4, 0.8, 0.6]) {
        const input = prepareCostModel(model, cluster, { globalBatch: 4, options: { ...CP_SPACE, memoryBudgetBytes: f * need } });
        out.push({ name: `${devices} devices, ${stages} stage(s), ${microBatches} micro-batches, ${schedule}, budget ${f}x`, t: buildCostTables(input, { stages, microBatches, schedule }) });
      }
    }
  }
  return out;
}

describe('search with context parallelism on real cost tables', () => {
  const all = instances();

  it('the tables offer cp only on the blocks, only where the micro-batch has too few rows for dp', () => {
    let offered = 0;
    for (const { t } of all) {
      t.strategies.forEach((s, k) => {
        if (cpDegree(s) === 1) return;
        offered++;
        expect(s.dp * cpDegree(s) * s.tp).toBe(t.devicesPerStage);
        expect(t.microBatchSize % (s.dp * cpDegree(s))).not.toBe(0);
        expect([0, 5].map((u) => t.allowed[u]![k])).toEqual([false, false]);
        expect([1, 2, 3, 4].every((u) => t.allowed[u]![k])).toBe(t.microBatchSize % s.dp === 0 && 4 / s.tp % cpDegree(s) === 0);
      });
    }
    expect(offered).toBeGreaterThan(0);
  });

  for (const backend of SPACE_BACKENDS) {
    it(`${backend} equals brute force on every instance`, async () => {
      await expectBruteForceOptimum(backend, all);
    }, 240_000);
  }

  it('the optima use cp, and leaving dominated strategies out keeps them', async () => {
    const { optima } = await expectPruningKeepsOptimum(all);
    expect(optima.length).toBeGreaterThan(4);
    expect(optima.filter(({ t, placement }) => placement.strategy.some((k) => cpDegree(t.strategies[k]!) > 1)).length).toBeGreaterThan(0);
  }, 240_000);
});
