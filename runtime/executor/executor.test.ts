// Parity tests of the executor: real processes, Gloo on CPU. Every plan must reproduce the losses of
// single-process training of the same model and seed (a 1-device plan) within 1e-4 relative for the
// first 5 steps; the single-process run itself must match plain PyTorch (uniap_exec.ddp_baseline).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel } from '../../configs/model-presets.ts';
import { resolveModel } from '../../configs/model-resolve.ts';
import type { ModelSpec } from '../../configs/model-spec.ts';
import type { Plan } from '../../planner/plan.ts';
import type { StepEvent } from '../../common/executor-events.ts';
import { describeFailures, lossesOf, runLocal, type LocalRunOptions, type RankResult } from './run-local.ts';
import { handPlan, uniformPlan } from '../../planner/plan-sketch.ts';
import { writeRunFiles } from './run-files.ts';

const STEPS = 5;
const LR = 3e-3; // large enough that a wrong gradient shows within 5 steps, small enough to learn
const RTOL = 1e-4;
const TIMEOUT = 180_000;

let dir = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'uniap-exec-'));
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function write(name: string, value: unknown): string {
  const p = join(dir, name);
  writeFileSync(p, JSON.stringify(value));
  return p;
}

async function train(
  model: ModelSpec,
  plan: Plan,
  name: string,
  extra: Partial<LocalRunOptions> = {},
): Promise<RankResult[]> {
  const results = await runLocal({
    ...writeRunFiles(dir, name, plan, model),
    steps: STEPS,
    seed: 1234,
    lr: LR,
    worldSize: plan.stages.reduce((n, s) => n + s.ranks[1], 0),
    timeoutMs: TIMEOUT - 10_000,
    env: { UNIAP_NUM_THREADS: '1' },
    ...extra,
  });
  const failures = describeFailures(results);
  expect(failures, failures).toBe('');
  return results;
}

function expectClose(actual: number[], expected: number[], what: string): void {
  expect(actual.length, `${what}: steps reported`).toBe(expected.length);
  actual.forEach((a, i) => {
    const rel = Math.abs(a - expected[i]!) / Math.abs(expected[i]!);
    expect(rel, `${what}: step ${i + 1} loss ${a} vs ${expected[i]} (relative ${rel.toExponential(2)})`).toBeLessThanOrEqual(RTOL);
  });
}

/** Every rank reported every step; the last stage's ranks agree on the loss; the others report null. */
function checkReports(plan: Plan, results: RankResult[]): void {
  const last = plan.stages[plan.stages.length - 1]!;
  for (const r of results) {
    const steps = r.events.filter((e): e is StepEvent => e.event === 'step');
    expect(steps.map((s) => s.step)).toEqual([1, 2, 3, 4, 5]);
    const onLast = r.rank >= last.ranks[0];
    for (const s of steps) {
      if (onLast) expect(typeof s.loss).toBe('number');
      else expect(s.loss).toBeNull();
      expect(s.samples).toBe(plan.globalBatch);
      expect(s.timeMs).toBeGreaterThan(0);
    }
    expect(r.events[0]?.event).toBe('ready');
    expect(r.events.at(-1)?.event).toBe('done');
  }
  const lastRanks = results.filter((r) => r.rank >= last.ranks[0]).map((r) => lossesOf([r]));
  for (const l of lastRanks) expect(l).toEqual(lastRanks[0]);
}

describe('executor parity on tiny-gpt (Gloo, CPU)', () => {
  const model = loadModel('tiny-gpt'); // embedding, 4 decoder blocks, tied head: layers 0..5
  const batch = { globalBatch: 8, microBatches: 2 };
  let reference: number[] = [];
  let modelBytes = 0; // parameter bytes of the whole model (the single rank holds all of it)

  beforeAll(async () => {
    const single = await train(model, uniformPlan(model, 1, { dp: 1, tp: 1 }, batch), 'single');
    reference = lossesOf(single);
    modelBytes = paramBytes(single)[0]!;
  }, TIMEOUT);

  it('single-process training learns and equals plain PyTorch', async () => {
    expect(reference).toHaveLength(STEPS);
    expect(reference[STEPS - 1]!).toBeLessThan(reference[0]!);
    const plain = lossesOf(await train(model, uniformPlan(model, 1, { dp: 1, tp: 1 }, batch), 'plain', { module: 'uniap_exec.ddp_baseline' }));
    expectClose(plain, reference, 'plain PyTorch');
  }, TIMEOUT);

  const cases: [string, () => Plan][] = [
    ['pure data parallel (dp2)', () => uniformPlan(model, 2, { dp: 2, tp: 1 }, batch)],
    ['pure tensor parallel (tp2)', () => uniformPlan(model, 2, { dp: 1, tp: 2 }, batch)],
    ['fully sharded data parallel (dp2 fsdp)', () => uniformPlan(model, 2, { dp: 2, tp: 1, fsdp: true }, batch)],
    ['ZeRO-1: optimizer states sharded (dp2 zero1)', () => uniformPlan(model, 2, { dp: 2, tp: 1, zero: 1 }, batch)],
    ['ZeRO-2: gradients sharded too (dp2 zero2)', () => uniformPlan(model, 2, { dp: 2, tp: 1, zero: 2 }, batch)],
    ['ZeRO-1 and ZeRO-2 with recomputation, tp and FSDP in one stage', () => handPlan(model, [{ layers: [0, 5], devices: 2, runs: [
      { layers: [0, 0], dp: 2, tp: 1, zero: 1 }, { layers: [1, 1], dp: 2, tp: 1, zero: 2, recompute: true }, { layers: [2, 2], dp: 1, tp: 2 },
      { layers: [3, 3], dp: 2, tp: 1, zero: 1, recompute: true }, { layers: [4, 4], dp: 2, tp: 1, fsdp: true }, { layers: [5, 5], dp: 2, tp: 1, zero: 2 },
    ] }], batch)],
    ['pp=2 GPipe', () => handPlan(model, [
      { layers: [0, 2], devices: 1, runs: [{ layers: [0, 2], dp: 1, tp: 1 }] },
      { layers: [3, 5], devices: 1, runs: [{ layers: [3, 5], dp: 1, tp: 1 }] },
    ], { globalBatch: 8, microBatches: 4, schedule: 'gpipe' })],
    ['pp=2 1F1B', () => handPlan(model, [
      { layers: [0, 2], devices: 1, runs: [{ layers: [0, 2], dp: 1, tp: 1 }] },
      { layers: [3, 5], devices: 1, runs: [{ layers: [3, 5], dp: 1, tp: 1 }] },
    ], { globalBatch: 8, microBatches: 4, schedule: '1f1b' })],
    ['mixed strategies inside one stage', () => mixedPlan(model)],
    ['sequence parallelism with tp (tp2 sp on the blocks)', () => handPlan(model, [{ layers: [0, 5], devices: 2, runs: [
      { layers: [0, 0], dp: 1, tp: 2 }, { layers: [1, 4], dp: 1, tp: 2, sp: true }, { layers: [5, 5], dp: 1, tp: 2 },
    ] }], batch)],
    ['selective recomputation (dp2, then tp2)', () => handPlan(model, [{ layers: [0, 5], devices: 2, runs: [
      { layers: [0, 2], dp: 2, tp: 1, selectiveRecompute: true }, { layers: [3, 5], dp: 1, tp: 2, selectiveRecompute: true },
    ] }], batch)],
    ['sp, selective and full recomputation, ZeRO and FSDP mixed in one stage', () => handPlan(model, [{ layers: [0, 5], devices: 2, runs: [
      { layers: [0, 0], dp: 2, tp: 1, zero: 1 },
      { layers: [1, 1], dp: 1, tp: 2, sp: true, selectiveRecompute: true }, // sequence sliced on entry
      { layers: [2, 2], dp: 1, tp: 2, sp: true, recompute: true }, // slice passed on; recomputed from it
      { layers: [3, 3], dp: 2, tp: 1, fsdp: true, selectiveRecompute: true }, // gathered, then resharded
      { layers: [4, 4], dp: 1, tp: 2, sp: true, fsdp: false }, // gathered before the head
      { layers: [5, 5], dp: 2, tp: 1, zero: 2 },
    ] }], batch)],
  ];
  for (const [name, make] of cases) {
    it(`${name} equals single-process training`, async () => {
      const plan = make();
      const results = await train(model, plan, name.replace(/[^a-z0-9]+/gi, '-'));
      checkReports(plan, results);
      expectClose(lossesOf(results), reference, name);
      if (name.includes('fsdp')) {
        // Each rank holds half of every layer's flat parameters (+ < dp padding elements per layer).
        for (const b of paramBytes(results)) expect(Math.abs(2 * b - modelBytes)).toBeLessThanOrEqual(model.layers.length * 2 * 4);
      }
    }, TIMEOUT);
  }

  it('pp=2 x (dp2 | tp2) 1F1B on 4 ranks: activations change layout across the stage boundary', async () => {
    const plan = handPlan(model, [
      { layers: [0, 2], devices: 2, runs: [{ layers: [0, 1], dp: 1, tp: 2 }, { layers: [2, 2], dp: 2, tp: 1, fsdp: true }] },
      { layers: [3, 5], devices: 2, runs: [{ layers: [3, 4], dp: 1, tp: 2, recompute: true }, { layers: [5, 5], dp: 2, tp: 1 }] },
    ], { globalBatch: 8, microBatches: 2, schedule: '1f1b' });
    const results = await train(model, plan, 'hybrid4');
    checkReports(plan, results);
    expectClose(lossesOf(results), reference, 'hybrid 4 ranks');
  }, TIMEOUT);

  it('sequence parallelism across a pp=2 1F1B stage boundary, and dp2 x tp2 sp and tp4 sp on 4 ranks', async () => {
    const plan = handPlan(model, [
      { layers: [0, 2], devices: 2, runs: [{ layers: [0, 0], dp: 2, tp: 1 }, { layers: [1, 2], dp: 1, tp: 2, sp: true }] },
      { layers: [3, 5], devices: 2, runs: [{ layers: [3, 4], dp: 1, tp: 2, sp: true, selectiveRecompute: true }, { layers: [5, 5], dp: 2, tp: 1 }] },
    ], { globalBatch: 8, microBatches: 2, schedule: '1f1b' });
    const results = await train(model, plan, 'sp-pp');
    checkReports(plan, results);
    expectClose(lossesOf(results), reference, 'sp across a stage boundary');
    const four = handPlan(model, [{ layers: [0, 5], devices: 4, runs: [
      { layers: [0, 0], dp: 4, tp: 1 }, { layers: [1, 2], dp: 2, tp: 2, sp: true, zero: 2 }, { layers: [3, 4], dp: 1, tp: 4, sp: true }, { layers: [5, 5], dp: 2, tp: 2 },
    ] }], { globalBatch: 8, microBatches: 2 });
    expectClose(lossesOf(await train(model, four, 'sp-four')), reference, 'dp2 x tp2 sp and tp4 sp on 4 ranks');
  }, TIMEOUT);

  it('context parallelism (Ulysses) on 2 ranks with recomputation, selective recomputation and FSDP', async () => {
    const plan = handPlan(model, [{ layers: [0, 5], devices: 2, runs: [
      { layers: [0, 0], dp: 2, tp: 1 }, // sequence sliced on entry to the next layer
      { layers: [1, 2], dp: 1, tp: 1, cp: 2 }, // slices passed on between cp layers
      { layers: [3, 3], dp: 1, tp: 1, cp: 2, recompute: true },
      { layers: [4, 4], dp: 1, tp: 1, cp: 2, fsdp: true, selectiveRecompute: true }, // parameters sharded over dp x cp
      { layers: [5, 5], dp: 2, tp: 1 }, // gathered, then resharded
    ] }], batch);
    const results = await train(model, plan, 'cp2');
    checkReports(plan, results);
    expectClose(lossesOf(results), reference, 'cp2');
  }, TIMEOUT);

  it('context parallelism with dp and tp on 4 ranks (dp2 x cp2 ZeRO-2, tp2 x cp2, cp4), and across a pp=2 1F1B boundary', async () => {
    const four = handPlan(model, [{ layers: [0, 5], devices: 4, runs: [
      { layers: [0, 0], dp: 4, tp: 1 }, { layers: [1, 2], dp: 2, tp: 1, cp: 2, zero: 2 }, { layers: [3, 3], dp: 1, tp: 2, cp: 2 },
      { layers: [4, 4], dp: 1, tp: 1, cp: 4, zero: 1 }, { layers: [5, 5], dp: 2, tp: 2 },
    ] }], batch);
    expectClose(lossesOf(await train(model, four, 'cp-four')), reference, 'dp2 x cp2, tp2 x cp2 and cp4 on 4 ranks');
    const pp = handPlan(model, [
      { layers: [0, 2], devices: 2, runs: [{ layers: [0, 0], dp: 2, tp: 1 }, { layers: [1, 2], dp: 1, tp: 1, cp: 2 }] },
      { layers: [3, 5], devices: 2, runs: [{ layers: [3, 4], dp: 1, tp: 1, cp: 2, zero: 1 }, { layers: [5, 5], dp: 2, tp: 1 }] },
    ], { globalBatch: 8, microBatches: 2, schedule: '1f1b' });
    const results = await train(model, pp, 'cp-pp');
    checkReports(pp, results);
    expectClose(lossesOf(results), reference, 'cp across a stage boundary');
  }, TIMEOUT);

  it('ring attention (cpComm p2p): cp2 with recomputation and FSDP, next to Ulysses; cp4 and tp2 x cp2 on 4 ranks', async () => {
    const two = handPlan(model, [{ layers: [0, 5], devices: 2, runs: [
      { layers: [0, 0], dp: 2, tp: 1 },
      { layers: [1, 1], dp: 1, tp: 1, cp: 2, cpComm: 'p2p' },
      { layers: [2, 2], dp: 1, tp: 1, cp: 2, cpComm: 'p2p', recompute: true },
      { layers: [3, 3], dp: 1, tp: 1, cp: 2 }, // Ulysses: the same sequence slices, passed on
      { layers: [4, 4], dp: 1, tp: 1, cp: 2, cpComm: 'p2p', fsdp: true },
      { layers: [5, 5], dp: 2, tp: 1 },
    ] }], batch);
    const results = await train(model, two, 'ring2');
    checkReports(two, results);
    expectClose(lossesOf(results), reference, 'ring cp2');
    const four = handPlan(model, [{ layers: [0, 5], devices: 4, runs: [
      { layers: [0, 0], dp: 4, tp: 1 }, { layers: [1, 2], dp: 1, tp: 1, cp: 4, cpComm: 'p2p', zero: 2 },
      { layers: [3, 4], dp: 1, tp: 2, cp: 2, cpComm: 'p2p' }, { layers: [5, 5], dp: 2, tp: 2 },
    ] }], batch);
    expectClose(lossesOf(await train(model, four, 'ring-four')), reference, 'ring cp4 and tp2 x cp2 on 4 ranks');
  }, TIMEOUT);

  it('one stage of 4 ranks whose layers go dp4 -> dp2 tp2 -> tp4 -> dp4 fsdp -> dp2 tp2 -> dp4: resharding over subgroups', async () => {
    const plan = handPlan(model, [
      {
        layers: [0, 5], devices: 4, runs: [
          { layers: [0, 0], dp: 4, tp: 1 },
          { layers: [1, 1], dp: 2, tp: 2 },
          { layers: [2, 2], dp: 1, tp: 4 },
          { layers: [3, 3], dp: 4, tp: 1, fsdp: true },
          { layers: [4, 4], dp: 2, tp: 2, recompute: true },
          { layers: [5, 5], dp: 4, tp: 1 },
        ],
      },
    ], { globalBatch: 8, microBatches: 2, schedule: '1f1b' });
    const results = await train(model, plan, 'reshard4');
    checkReports(plan, results);
    expectClose(lossesOf(results), reference, 'resharding on 4 ranks');
  }, TIMEOUT);

  it('the bf16 mixed-precision path (forced on CPU) runs the mixed plan close to fp32', async () => {
    const results = await train(model, mixedPlan(model), 'bf16', { steps: 2, env: { UNIAP_NUM_THREADS: '1', UNIAP_COMPUTE_DTYPE: 'bf16' } });
    const losses = lossesOf(results);
    losses.forEach((l, i) => expect(Math.abs(l - reference[i]!) / reference[i]!).toBeLessThan(2e-2));
    expect(losses.some((l, i) => l !== reference[i])).toBe(true); // it really computed in bf16
  }, TIMEOUT);

  it('the bf16 path of ZeRO-1 and ZeRO-2 (bf16 weights, fp32 gradient buffer and master shards) trains close to fp32', async () => {
    const plan = uniformPlan(model, 2, { dp: 2, tp: 1, zero: 1 }, batch);
    plan.stages[0]!.strategies = [
      { layers: [0, 2], dp: 2, tp: 1, fsdp: false, zero: 1, recompute: false },
      { layers: [3, 5], dp: 2, tp: 1, fsdp: false, zero: 2, recompute: false },
    ];
    const losses = lossesOf(await train(model, plan, 'bf16-zero', { steps: 2, env: { UNIAP_NUM_THREADS: '1', UNIAP_COMPUTE_DTYPE: 'bf16' } }));
    losses.forEach((l, i) => expect(Math.abs(l - reference[i]!) / reference[i]!).toBeLessThan(2e-2));
    expect(losses.some((l, i) => l !== reference[i])).toBe(true);
  }, TIMEOUT);

  it('the tokenized-file dataset (uint16) gives the same losses under fsdp as single-process', async () => {
    // A deterministic token stream (an LCG over the vocabulary) in the uint16 format of nanoGPT.
    const tokens = new Uint16Array(20_000);
    let x = 12345;
    for (let i = 0; i < tokens.length; i++) {
      x = (x * 1103515245 + 12345) % 2147483648;
      tokens[i] = i % 3 === 0 ? x % model.layers[0]!.vocabSize : (tokens[i - 1]! * 7 + 3) % model.layers[0]!.vocabSize;
    }
    const data = join(dir, 'tokens.bin');
    writeFileSync(data, Buffer.from(tokens.buffer));
    const single = lossesOf(await train(model, uniformPlan(model, 1, { dp: 1, tp: 1 }, batch), 'file-single', { data, steps: 2 }));
    const fsdp = lossesOf(await train(model, uniformPlan(model, 2, { dp: 2, tp: 1, fsdp: true }, batch), 'file-fsdp', { data, steps: 2 }));
    expect(single[0]).not.toBe(reference[0]); // it read the file, not the synthetic source
    expectClose(fsdp, single, 'file data fsdp');
  }, TIMEOUT);

  it('checkpoint save and resume give the losses of an uninterrupted run', async () => {
    const plan = mixedPlan(model);
    const ckpt = join(dir, 'ckpt');
    const first = await train(model, plan, 'ckpt-a', { steps: 3, checkpointDir: ckpt, checkpointEvery: 3 });
    const saved = first.flatMap((r) => r.events.filter((e) => e.event === 'checkpoint'));
    expect(saved.map((e) => e.step)).toEqual([3, 3]);
    const second = await train(model, plan, 'ckpt-b', { steps: 5, checkpointDir: ckpt, resume: true });
    for (const r of second) {
      const ready = r.events[0];
      expect(ready?.event === 'ready' && ready.resumedFromStep).toBe(3);
    }
    const losses = [...lossesOf(first), ...lossesOf(second)];
    expectClose(losses, reference, 'checkpointed run');
  }, TIMEOUT);
});

function paramBytes(results: RankResult[]): number[] {
  return results.map((r) => {
    const e = r.events.find((x) => x.event === 'ready');
    return e && e.event === 'ready' ? e.paramBytes ?? 0 : 0;
  });
}

/** Six layers of tiny-gpt on 2 ranks, every strategy kind (ZeRO-1/2 included), resharding between most neighbours. */
function mixedPlan(model: ModelSpec): Plan {
  return handPlan(model, [{
    layers: [0, 5], devices: 2, runs: [
      { layers: [0, 0], dp: 1, tp: 2 },
      { layers: [1, 1], dp: 2, tp: 1, zero: 1, recompute: true },
      { layers: [2, 2], dp: 2, tp: 1, fsdp: true },
      { layers: [3, 3], dp: 1, tp: 2, recompute: true },
      { layers: [4, 4], dp: 2, tp: 1, fsdp: true, recompute: true },
      { layers: [5, 5], dp: 2, tp: 1, zero: 2 }, // the tied head under ZeRO-2: its gradient shard joins the tie sum
    ],
  }], { globalBatch: 8, microBatches: 2 });
}

describe('executor parity on other model families', () => {
  it('tiny-t5 (encoder-decoder, relative attention, tied tables) on pp=2 and on a mixed stage', async () => {
    const model = loadModel('tiny-t5'); // 0 emb, 1-2 enc, 3 dec emb, 4-5 cross-dec, 6 head
    const batch = { globalBatch: 4, microBatches: 2 };
    const reference = lossesOf(await train(model, uniformPlan(model, 1, { dp: 1, tp: 1 }, batch), 't5-single'));
    const pp = handPlan(model, [
      { layers: [0, 3], devices: 1, runs: [{ layers: [0, 3], dp: 1, tp: 1 }] },
      { layers: [4, 6], devices: 1, runs: [{ layers: [4, 6], dp: 1, tp: 1 }] },
    ], { ...batch, schedule: '1f1b' });
    expectClose(lossesOf(await train(model, pp, 't5-pp')), reference, 'tiny-t5 pp=2');
    const mixed = handPlan(model, [{
      layers: [0, 6], devices: 2, runs: [
        { layers: [0, 1], dp: 2, tp: 1 },
        { layers: [2, 2], dp: 1, tp: 2 },
        { layers: [3, 3], dp: 2, tp: 1, fsdp: true },
        { layers: [4, 4], dp: 1, tp: 2, recompute: true },
        { layers: [5, 6], dp: 2, tp: 1, fsdp: true },
      ],
    }], batch);
    expectClose(lossesOf(await train(model, mixed, 't5-mixed')), reference, 'tiny-t5 mixed');
    // Sequence parallelism on the encoder and the cross-decoders (relative position bias, encoder output
    // carried beside the decoder's hidden states), selective recomputation on the cross-decoders.
    const sp = handPlan(model, [{
      layers: [0, 6], devices: 2, runs: [
        { layers: [0, 0], dp: 1, tp: 2 },
        { layers: [1, 2], dp: 1, tp: 2, sp: true },
        { layers: [3, 3], dp: 2, tp: 1 },
        { layers: [4, 5], dp: 1, tp: 2, sp: true, selectiveRecompute: true },
        { layers: [6, 6], dp: 1, tp: 2 },
      ],
    }], batch);
    expectClose(lossesOf(await train(model, sp, 't5-sp')), reference, 'tiny-t5 sp');
    // Context parallelism on the encoder (T5's relative position bias over whole sequences, per head).
    const cp = handPlan(model, [{
      layers: [0, 6], devices: 2, runs: [
        { layers: [0, 0], dp: 2, tp: 1 },
        { layers: [1, 2], dp: 1, tp: 1, cp: 2 },
        { layers: [3, 6], dp: 2, tp: 1 },
      ],
    }], batch);
    expectClose(lossesOf(await train(model, cp, 't5-cp')), reference, 'tiny-t5 cp');
    // Ring attention on the (bidirectional) encoder: every block computed, the relative bias per block pair.
    const ring = handPlan(model, [{
      layers: [0, 6], devices: 2, runs: [
        { layers: [0, 0], dp: 2, tp: 1 },
        { layers: [1, 2], dp: 1, tp: 1, cp: 2, cpComm: 'p2p' },
        { layers: [3, 6], dp: 2, tp: 1 },
      ],
    }], batch);
    expectClose(lossesOf(await train(model, ring, 't5-ring')), reference, 'tiny-t5 ring');
  }, TIMEOUT);

  it('a tiny Swin (windowed attention, patch merging, classifier) under tp and fsdp', async () => {
    const model = resolveModel({
      name: 'tiny-swin', family: 'vision', dtype: 'fp32', activation: 'gelu', vocabSize: 10, norm: 'layernorm', bias: true,
      blocks: [
        { type: 'patch-embedding', hiddenSize: 32, patchSize: 2, imageSize: 16, channels: 3, positionEmbedding: 'none' },
        { type: 'swin', count: 2, hiddenSize: 32, ffnSize: 64, heads: 2, windowSize: 4 },
        { type: 'swin', patchMerging: true, hiddenSize: 64, ffnSize: 128, heads: 4, windowSize: 4 },
        { type: 'swin', count: 1, hiddenSize: 64, ffnSize: 128, heads: 4, windowSize: 4 },
        { type: 'head' },
      ],
    }, 'executor.test.ts');
    const batch = { globalBatch: 8, microBatches: 2 };
    const reference = lossesOf(await train(model, uniformPlan(model, 1, { dp: 1, tp: 1 }, batch), 'swin-single'));
    const mixed = handPlan(model, [{
      layers: [0, 5], devices: 2, runs: [
        { layers: [0, 1], dp: 2, tp: 1 },
        { layers: [2, 3], dp: 1, tp: 2 },
        { layers: [4, 5], dp: 2, tp: 1, fsdp: true, recompute: true },
      ],
    }], batch);
    expectClose(lossesOf(await train(model, mixed, 'swin-mixed')), reference, 'tiny swin mixed');
  }, TIMEOUT);
});

describe('layers and contract', () => {

  it('a plan that does not fit the model is refused in TypeScript, before any executor starts', () => {
    const model = loadModel('tiny-gpt');
    const plan = uniformPlan(model, 1, { dp: 1, tp: 1 }, { globalBatch: 8, microBatches: 2 });
    plan.stages[0]!.strategies[0]!.layers = [0, 3]; // layers 4 and 5 have no strategy
    expect(() => writeRunFiles(dir, 'bad', plan, model)).toThrow(/runs end at layer 3 but the stage ends at 5; cover every layer/);
    const tp3 = uniformPlan(model, 1, { dp: 1, tp: 1 }, { globalBatch: 8, microBatches: 2 });
    tp3.stages[0]!.strategies[0]!.tp = 3; // 3 does not divide tiny-gpt's heads
    tp3.stages[0]!.strategies[0]!.dp = 1;
    expect(() => writeRunFiles(dir, 'bad-tp', tp3, model)).toThrow(/tp=3|dp 1 x tp 3/);
  });

  it('an executor handed files that did not come through uniap fails with one error event naming the fix', async () => {
    const model = loadModel('tiny-gpt');
    const plan = uniformPlan(model, 1, { dp: 1, tp: 1 }, { globalBatch: 8, microBatches: 2 });
    const results = await runLocal({ planPath: write('raw.plan.json', plan), modelPath: write('raw.model.json', model), steps: 2, worldSize: 1 });
    expect(results[0]!.exitCode).not.toBe(0);
    expect(results[0]!.events).toHaveLength(1);
    const e = results[0]!.events[0]!;
    expect(e.event === 'error' && e.message).toMatch(/no resolved facts; pass the model JSON uniap writes/);
  }, TIMEOUT);
});
