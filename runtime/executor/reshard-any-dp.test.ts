// Executor parity for resharding between data-parallel degrees that do not divide each other (dp 3 <->
// dp 2 on a stage of 6 ranks), which the cost model prices since it plans clusters of any device
// count (planner/rank-layout.ts shardGatherGroups has the derivation). Real processes, Gloo on CPU:
// the losses of the first steps must equal single-process training of the same model and seed.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveModel } from '../../configs/model-resolve.ts';
import type { ModelSpec } from '../../configs/model-spec.ts';
import type { Plan } from '../../planner/plan.ts';
import { describeFailures, lossesOf, runLocal } from './run-local.ts';
import { handPlan, uniformPlan } from '../../planner/plan-sketch.ts';
import { writeRunFiles } from './run-files.ts';

const STEPS = 4;
const RTOL = 1e-4;
const TIMEOUT = 180_000;

let dir = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'uniap-reshard-'));
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

// 6 heads, FFN 384 and vocabulary 384: tp 1, 2, 3 and 6 all split every layer.
const model: ModelSpec = resolveModel(
  {
    name: 'tiny-gpt-6h', family: 'decoder-only', dtype: 'fp32', hiddenSize: 96, ffnSize: 384, activation: 'gelu', heads: 6,
    seqLength: 16, vocabSize: 384, norm: 'layernorm', bias: true,
    blocks: [{ type: 'embedding', positionEmbedding: 'learned' }, { type: 'decoder', count: 4 }, { type: 'head', tiedEmbedding: true, bias: false }],
  },
  'reshard-any-dp.test.ts',
);

async function losses(plan: Plan, name: string): Promise<number[]> {
  const results = await runLocal({
    ...writeRunFiles(dir, name, plan, model),
    steps: STEPS,
    seed: 1234,
    lr: 3e-3,
    worldSize: plan.stages.reduce((n, s) => n + s.ranks[1], 0),
    timeoutMs: TIMEOUT - 10_000,
    env: { UNIAP_NUM_THREADS: '1' },
  });
  const failures = describeFailures(results);
  expect(failures, failures).toBe('');
  return lossesOf(results);
}

describe('resharding between any two dp degrees (Gloo, CPU)', () => {
  it('one stage of 6 ranks: dp3 tp2 -> dp2 tp3 -> dp3 fsdp -> dp6 -> dp2 tp3 recompute -> dp3 tp2 equals single-process training', async () => {
    const batch = { globalBatch: 12, microBatches: 2 };
    const reference = await losses(uniformPlan(model, 1, { dp: 1, tp: 1 }, batch), 'single');
    const plan = handPlan(model, [{
      layers: [0, 5], devices: 6, runs: [
        { layers: [0, 0], dp: 3, tp: 2 },
        { layers: [1, 1], dp: 2, tp: 3 },
        { layers: [2, 2], dp: 3, tp: 2, fsdp: true },
        { layers: [3, 3], dp: 6, tp: 1 },
        { layers: [4, 4], dp: 2, tp: 3, recompute: true },
        { layers: [5, 5], dp: 3, tp: 2 },
      ],
    }], { ...batch, schedule: '1f1b' });
    const got = await losses(plan, 'mixed6');
    expect(got).toHaveLength(STEPS);
    got.forEach((l, i) => expect(Math.abs(l - reference[i]!) / reference[i]!, `step ${i + 1}: ${l} vs ${reference[i]}`).toBeLessThanOrEqual(RTOL));
  }, TIMEOUT);
});
