import { describe, expect, it } from 'vitest';
import { loadModel } from '../../configs/model-presets.ts';
import { loadCluster } from '../../configs/cluster-presets.ts';
import { prepareCostModel } from '../cost-model/input.ts';
import { buildCostTables } from '../cost-model/build.ts';
import { configurations } from '../search/configurations.ts';
import { evenSplit } from './even-split.ts';
import { megatronBaseline } from './megatron.ts';
import { compareWithBaselines } from './compare.ts';
import { gradDp } from '../strategy.ts';

describe('baselines', () => {
  it('even split: blocks spread evenly, embedding on the first stage, head on the last', () => {
    const m = loadModel('llama-2-7b'); // embedding, 32 decoders, head
    expect(evenSplit(m, 1)).toEqual([0]);
    expect(evenSplit(m, 4)).toEqual([0, 9, 17, 25]);
    expect(evenSplit(m, 3)).toEqual([0, 12, 23]); // 11, 11, 10 blocks
    expect(evenSplit(m, 32)).toHaveLength(32);
  });

  it('Megatron enumerates every uniform (pp, dp, tp, cp, c, sp, recomputation, distributed optimizer) configuration, never ZeRO-2 or FSDP', () => {
    const model = loadModel('tiny-gpt');
    const input = prepareCostModel(model, loadCluster('h100-1x8'), { globalBatch: 8, options: { maxCp: 8 } }); // cp searched at 64 tokens too
    const r = megatronBaseline(input);
    let plainUniform = 0;
    const tables = new Map<string, ReturnType<typeof buildCostTables>>();
    for (const config of configurations(input, { schedule: '1f1b' })) {
      const t = buildCostTables(input, config);
      tables.set(`${config.stages}/${config.microBatches}`, t);
      plainUniform += t.strategies.filter((s, k) => !s.fsdp && s.zero !== 2 && !s.sp && !s.selectiveRecompute && !s.cp && t.allowed.every((row) => row[k])).length;
    }
    expect(r.feasible + r.infeasible).toBe(r.candidates.length);
    const seen = new Set<string>();
    for (const c of r.candidates) {
      const t = tables.get(`${c.stages}/${c.microBatches}`)!;
      const blocks = c.placement.strategy.filter((_, u) => model.layers[u]!.type === 'decoder');
      expect(new Set(blocks).size).toBe(1); // one strategy on every transformer block
      const b = t.strategies[blocks[0]!]!;
      expect([b.fsdp, b.zero === 2]).toEqual([false, false]);
      expect([b.dp, b.tp, b.cp ?? 1, b.sp ?? false, b.selectiveRecompute ?? false, b.recompute, b.zero === 1]).toEqual([c.dp, c.tp, c.cp, c.sp, c.selectiveRecompute, c.recompute, c.distributedOptimizer]);
      for (const k of c.placement.strategy) {
        // embedding and head: the same ranks, with sp / selective recomputation / cp left out where they have none
        const s = t.strategies[k]!;
        expect([gradDp(s) * s.tp, s.fsdp, s.zero, s.recompute]).toEqual([gradDp(b) * b.tp, b.fsdp, b.zero, b.recompute]);
      }
      const key = `${c.stages}/${c.microBatches}/${c.placement.strategy.join(',')}`;
      expect(seen.has(key)).toBe(false);
      seen.add(key);
    }
    expect(r.candidates.filter((c) => !c.sp && !c.selectiveRecompute && c.cp === 1).length).toBe(plainUniform);
    for (const knob of ['distributedOptimizer', 'sp', 'selectiveRecompute', 'recompute'] as const) expect(r.candidates.some((c) => c[knob])).toBe(true);
    expect(r.candidates.some((c) => c.cp > 1)).toBe(true);
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
