import { describe, expect, it } from 'vitest';
import { loadModel } from '../../configs/model-presets.ts';
import { loadCluster } from '../../configs/cluster-presets.ts';
import { prepareCostModel } from '../cost-model/input.ts';
import { buildCostTables } from '../cost-model/build.ts';
import { configurations } from '../search/configurations.ts';
import { evenSplit } from './even-split.ts';
import { megatronBaseline } from './megatron.ts';
import { compareWithBaselines } from './compare.ts';

describe('baselines', () => {
  it('even split: blocks spread evenly, embedding on the first stage, head on the last', () => {
    const m = loadModel('llama-2-7b'); // embedding, 32 decoders, head
    expect(evenSplit(m, 1)).toEqual([0]);
    expect(evenSplit(m, 4)).toEqual([0, 9, 17, 25]);
    expect(evenSplit(m, 3)).toEqual([0, 12, 23]); // 11, 11, 10 blocks
    expect(evenSplit(m, 32)).toHaveLength(32);
  });

  it('Megatron enumerates every uniform (pp, dp, tp, c, recompute, distributed optimizer) configuration, never ZeRO-2 or FSDP', () => {
    const input = prepareCostModel(loadModel('tiny-gpt'), loadCluster('h100-1x8'), { globalBatch: 8 });
    const r = megatronBaseline(input);
    let expected = 0;
    for (const config of configurations(input, { schedule: '1f1b' })) {
      const t = buildCostTables(input, config);
      expected += t.strategies.filter((s, k) => !s.fsdp && s.zero !== 2 && t.allowed.every((row) => row[k])).length;
    }
    expect(r.candidates.length).toBe(expected);
    expect(r.feasible + r.infeasible).toBe(expected);
    expect(r.candidates.every((c) => c.placement.strategy.every((k) => k === c.placement.strategy[0]))).toBe(true);
    expect(r.candidates.some((c) => c.distributedOptimizer)).toBe(true);
  });

  it('the planner is never slower than any baseline on a memory-bound model (it searches a superset)', async () => {
    const input = prepareCostModel(loadModel('bert-huge'), loadCluster('paper-titanxp-2x4'), { globalBatch: 16 });
    const c = await compareWithBaselines(input);
    const ours = c.planner.plan.predictions!.timePerIterationMs;
    const others = c.rows.slice(1).flatMap((r) => (r.timePerIterationMs !== undefined ? [r.timePerIterationMs] : []));
    expect(others.length).toBeGreaterThan(0);
    for (const t of others) expect(ours).toBeLessThanOrEqual(t * (1 + 1e-9));
    expect(c.megatron.infeasible).toBeGreaterThan(0); // 12 GB TITAN Xp: some uniform configurations run out of memory
    expect(c.rows[0]!.plannerSpeedup).toBe(1);
  });
});
