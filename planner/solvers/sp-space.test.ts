// The search space with sequence parallelism and selective recomputation, on real cost tables:
// tiny-gpt on 2 and 4 CPU devices (the datasheet profile: eager attention, so selective recomputation
// has s x S tensors to drop), recomputation none / selective / full and sp off / on per layer, both
// schedules, budgets from roomy to tight. Every backend must find brute force's optimum; leaving
// dominated strategies out must not change it; the optima must use sp and selective recomputation
// somewhere (else the new choices would not be exercised). ZeRO and FSDP are left out here to keep
// brute force small (zero-space.test.ts covers them; the CLI test searches everything together).
import { describe, expect, it } from 'vitest';
import { localCpuCluster } from '../../configs/cluster-presets.ts';
import { loadModel } from '../../configs/model-presets.ts';
import { buildCostTables } from '../cost-model/build.ts';
import { prepareCostModel } from '../cost-model/input.ts';
import type { CostTables } from '../cost-model/tables.ts';
import { expectBruteForceOptimum, expectPruningKeepsOptimum, SPACE_BACKENDS } from './space-suite.ts';

const model = loadModel('tiny-gpt');
const SP_SPACE = { allowZero: false, allowFsdp: false, allowRecompute: true, allowSelectiveRecompute: true, allowSp: true };

function instances(): { name: string; t: CostTables }[] {
  const out: { name: string; t: CostTables }[] = [];
  for (const [devices, stages] of [[2, 1], [2, 2], [4, 2]] as const) {
    const cluster = localCpuCluster(devices);
    const roomy = prepareCostModel(model, cluster, { globalBatch: 8, options: SP_SPACE });
    for (const schedule of ['gpipe', '1f1b'] as const) {
      const base = buildCostTables(roomy, { stages, microBatches: 2, schedule });
      // The memory of the fastest strategies, then budgets under it (memory-saving choices must pay).
      const fastest = base.cost.map((row, u) => {
        const ok = row.filter((_, k) => base.allowed[u]![k]);
        const best = ok.reduce((a, c) => (c.timeMs < a.timeMs ? c : a));
        return best.stateBytes + 2 * best.activationBytes + best.workspaceBytes;
      });
      const need = fastest.reduce((a, b) => a + b, 0) / stages;
      for (const f of [4, 0.9, 0.75, 0.6]) {
        const input = prepareCostModel(model, cluster, { globalBatch: 8, options: { ...SP_SPACE, memoryBudgetBytes: f * need } });
        out.push({ name: `${devices} devices, ${stages} stage(s), ${schedule}, budget ${f}x`, t: buildCostTables(input, { stages, microBatches: 2, schedule }) });
      }
    }
  }
  return out;
}

describe('search with sequence parallelism and selective recomputation on real cost tables', () => {
  const all = instances();

  it('the tables offer sp with every tp > 1 and all three recomputation granularities', () => {
    for (const { t } of all) {
      for (const s of t.strategies.filter((x) => x.tp > 1 && !x.sp)) {
        const granularities = (sp: boolean) =>
          t.strategies.filter((x) => x.dp === s.dp && x.tp === s.tp && !!x.sp === sp).map((x) => (x.recompute ? 'full' : x.selectiveRecompute ? 'selective' : 'none')).sort();
        expect(granularities(true)).toEqual(['full', 'none', 'selective']);
        expect(granularities(false)).toEqual(['full', 'none', 'selective']);
      }
      // sp is allowed only on the blocks (layers 1-4), never on the embedding or head.
      t.strategies.forEach((s, k) => {
        if (!s.sp) return;
        expect([0, 5].map((u) => t.allowed[u]![k])).toEqual([false, false]);
        expect([1, 2, 3, 4].every((u) => t.allowed[u]![k])).toBe(true);
      });
    }
  });

  for (const backend of SPACE_BACKENDS) {
    it(`${backend} equals brute force on every instance`, async () => {
      await expectBruteForceOptimum(backend, all);
    }, 240_000);
  }

  it('the optima use sp and selective recomputation, and leaving dominated strategies out keeps them', async () => {
    const { optima } = await expectPruningKeepsOptimum(all);
    const chosen = optima.map(({ t, placement }) => placement.strategy.map((k) => t.strategies[k]!));
    expect(optima.length).toBeGreaterThan(4);
    expect(chosen.filter((c) => c.some((s) => s.sp)).length).toBeGreaterThan(0);
    expect(chosen.filter((c) => c.some((s) => s.selectiveRecompute)).length).toBeGreaterThan(0);
  }, 240_000);
});
