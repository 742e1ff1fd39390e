// The executor keeps the model states the cost model charges: 18 bytes per parameter for a replicated
// layer in 16-bit compute (bf16 copy, fp32 gradient, fp32 master, Adam moments; Megatron-LM --bf16),
// 16/dp for a fully sharded one (configs/model-state.ts). Real processes, Gloo on CPU with the bf16
// compute path (UNIAP_COMPUTE_DTYPE=bf16); the executor reports what it holds after the optimizer step.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localCpuCluster } from '../../configs/cluster-presets.ts';
import { resolveModel } from '../../configs/model-resolve.ts';
import type { ModelSpec } from '../../configs/model-spec.ts';
import type { StepEvent } from '../../common/executor-events.ts';
import { prepareCostModel } from '../../planner/cost-model/input.ts';
import { estimatePlan, optionsForPlan } from '../../planner/estimate.ts';
import { describeFailures, runLocal } from './run-local.ts';
import { handPlan } from '../../planner/plan-sketch.ts';
import { writeRunFiles } from './run-files.ts';

const TIMEOUT = 120_000;
let dir = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'uniap-state-'));
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const MODEL_CONFIG = {
  name: 'tiny-gpt-bf16', family: 'decoder-only', dtype: 'bf16', hiddenSize: 64, ffnSize: 256, activation: 'gelu', heads: 4,
  seqLength: 16, vocabSize: 256, norm: 'layernorm', bias: true,
  blocks: [{ type: 'embedding', positionEmbedding: 'learned' }, { type: 'decoder', count: 4 }, { type: 'head', tiedEmbedding: false, bias: false }],
};
const model: ModelSpec = resolveModel(MODEL_CONFIG, 'state-bytes.test.ts');

describe('model-state memory: executor vs cost model', () => {
  it('replicated, tensor-parallel and fully sharded layers hold what configs/model-state.ts charges (within fsdp padding)', async () => {
    const plan = handPlan(model, [
      { layers: [0, 2], devices: 2, runs: [{ layers: [0, 0], dp: 2, tp: 1 }, { layers: [1, 2], dp: 1, tp: 2 }] },
      { layers: [3, 5], devices: 2, runs: [{ layers: [3, 5], dp: 2, tp: 1, fsdp: true }] },
    ], { globalBatch: 4, microBatches: 2, schedule: '1f1b' });
    const results = await runLocal({
      ...writeRunFiles(dir, 'mixed', plan, model),
      steps: 2, seed: 1, lr: 1e-3, worldSize: 4, timeoutMs: TIMEOUT - 10_000,
      env: { UNIAP_NUM_THREADS: '1', UNIAP_COMPUTE_DTYPE: 'bf16' },
    });
    expect(describeFailures(results)).toBe('');
    const cluster = localCpuCluster(4);
    const input = prepareCostModel(model, cluster, { globalBatch: plan.globalBatch, options: optionsForPlan(plan, cluster) });
    const report = estimatePlan(input, plan);
    for (const r of results) {
      const steps = r.events.filter((e): e is StepEvent => e.event === 'step');
      const held = steps[steps.length - 1]!.stateBytes!;
      expect(held, `rank ${r.rank} reports stateBytes`).toBeGreaterThan(0);
      const m = report.memory[r.rank < 2 ? 0 : 1]!;
      const predicted = m.weightBytes + m.gradientBytes + m.optimizerBytes;
      // FSDP pads each flat shard to a multiple of dp: a few elements per layer.
      expect(Math.abs(held - predicted) / predicted, `rank ${r.rank}: executor ${held} B vs cost model ${predicted} B`).toBeLessThan(0.005);
    }
  }, TIMEOUT);

  it('ZeRO-1 and ZeRO-2 layers hold what configs/model-state.ts charges (6 + 12/dp and 2 + 16/dp in 16-bit; 8 + 8/dp and 4 + 12/dp in fp32)', async () => {
    for (const dtype of ['bf16', 'fp32'] as const) {
      const m = dtype === 'bf16' ? model : resolveModel({ ...MODEL_CONFIG, name: 'tiny-gpt-fp32', dtype: 'fp32' }, 'state-bytes.test.ts');
      const plan = handPlan(m, [
        { layers: [0, 5], devices: 2, runs: [{ layers: [0, 2], dp: 2, tp: 1, zero: 1 }, { layers: [3, 5], dp: 2, tp: 1, zero: 2 }] },
      ], { globalBatch: 4, microBatches: 2 });
      const results = await runLocal({
        ...writeRunFiles(dir, `zero-${dtype}`, plan, m),
        steps: 2, seed: 1, lr: 1e-3, worldSize: 2, timeoutMs: 50_000,
        env: { UNIAP_NUM_THREADS: '1', UNIAP_COMPUTE_DTYPE: dtype },
      });
      expect(describeFailures(results)).toBe('');
      const cluster = localCpuCluster(2);
      const report = estimatePlan(prepareCostModel(m, cluster, { globalBatch: plan.globalBatch, options: optionsForPlan(plan, cluster) }), plan);
      const mem = report.memory[0]!;
      const predicted = mem.weightBytes + mem.gradientBytes + mem.optimizerBytes;
      for (const r of results) {
        const steps = r.events.filter((e): e is StepEvent => e.event === 'step');
        const held = steps[steps.length - 1]!.stateBytes!;
        expect(Math.abs(held - predicted) / predicted, `${dtype} rank ${r.rank}: executor ${held} B vs cost model ${predicted} B`).toBeLessThan(0.005);
      }
    }
  }, TIMEOUT);
});
