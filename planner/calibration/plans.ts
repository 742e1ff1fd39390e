// The plans `uniap calibrate` runs: short and diverse, so that every calibration factor
// (profiler/calibration.ts) has plans whose time depends on it — pure data parallelism (gradient
// all-reduce), tensor parallelism (per-layer all-reduces), FSDP (all-gathers and reduce-scatters
// every micro-batch, overlapped), ZeRO-1 and ZeRO-2 (reduce-scatter and all-gather), pipelines with
// both schedules (P2P and the bubble), recomputation
// (the forward twice) and one stage that mixes every kind. Candidates come in a fixed order of
// priority; those the base profile predicts do not fit the devices are skipped.
import type { ClusterSpec } from '../../configs/cluster-spec.ts';
import { totalDevices } from '../../configs/cluster-spec.ts';
import { clusterFingerprint } from '../../configs/cluster-presets.ts';
import type { ModelSpec } from '../../configs/model-spec.ts';
import { tpDivides } from '../../configs/model-tp.ts';
import { UniapError } from '../../common/errors.ts';
import { devicesPerNode } from '../cost-model/input.ts';
import { handPlan, type RunSketch } from '../plan-sketch.ts';
import type { Plan } from '../plan.ts';

export interface NamedPlan {
  name: string;
  plan: Plan;
}

const CREATED_BY = 'uniap calibrate';

/**
 * Every candidate for `model` on `cluster` at global batch `globalBatch`, most informative first.
 * One-stage plans use 2 micro-batches, pipelines 4, and one of each runs with one sample per device
 * and micro-batch (the batch must split: candidates whose micro-batch does not divide over their
 * data-parallel degree are left out).
 */
export function calibrationCandidates(model: ModelSpec, cluster: ClusterSpec, globalBatch: number): NamedPlan[] {
  const n = totalDevices(cluster);
  const perNode = devicesPerNode(cluster);
  const last = model.layers.length - 1;
  const clusterRef = { name: cluster.name, fingerprint: clusterFingerprint(cluster) };
  const allTp = (tp: number) => model.layers.every((l) => tpDivides(l, tp));
  const out: NamedPlan[] = [];
  const add = (name: string, make: () => Plan | null) => {
    const p = make();
    if (p) out.push({ name, plan: p });
  };
  const splits = (b: number, c: number, dp: number) => b % c === 0 && (b / c) % dp === 0;
  const oneStage = (s: Omit<RunSketch, 'layers'>, c = 2): Plan | null =>
    splits(globalBatch, c, s.dp) && allTp(s.tp)
      ? handPlan(model, [{ layers: [0, last], devices: n, runs: [{ ...s, layers: [0, last] }] }], { globalBatch, microBatches: c, cluster: clusterRef, createdBy: CREATED_BY })
      : null;
  const pipeline = (stages: number, s: Omit<RunSketch, 'layers'>, schedule: 'gpipe' | '1f1b', c = 4): Plan | null => {
    const g = n / stages;
    if (!Number.isInteger(g) || model.layers.length < stages || !splits(globalBatch, c, s.dp) || !allTp(s.tp)) return null;
    const cuts = Array.from({ length: stages + 1 }, (_, i) => Math.round((i * model.layers.length) / stages));
    return handPlan(
      model,
      Array.from({ length: stages }, (_, i) => {
        const layers: [number, number] = [cuts[i]!, cuts[i + 1]! - 1];
        return { layers, devices: g, runs: [{ ...s, layers }] };
      }),
      { globalBatch, microBatches: c, schedule, cluster: clusterRef, createdBy: CREATED_BY },
    );
  };
  const tpMax = Math.max(...[1, 2, 4, 8].filter((t) => t <= Math.min(n, perNode) && n % t === 0 && allTp(t)));

  add(`dp${n}`, () => oneStage({ dp: n, tp: 1 }));
  if (tpMax > 1) add(`tp${tpMax}${n > tpMax ? ` dp${n / tpMax}` : ''}`, () => oneStage({ dp: n / tpMax, tp: tpMax }));
  if (n > 1) add(`fsdp dp${n}`, () => oneStage({ dp: n, tp: 1, fsdp: true }));
  if (n > 1) {
    add(`pp2 GPipe dp${n / 2}`, () => pipeline(2, { dp: n / 2, tp: 1 }, 'gpipe'));
    add(`pp2 1F1B dp${n / 2}`, () => pipeline(2, { dp: n / 2, tp: 1 }, '1f1b'));
  }
  if (n > 1 && tpMax > 1) add('mixed (1 stage)', () => mixedStage(model, n, tpMax, globalBatch, clusterRef));
  // One sample per device and micro-batch: the most micro-batches, where fixed per-layer costs show.
  const manyMicro = globalBatch / n;
  if (manyMicro > 2) add(`dp${n} c=${manyMicro}`, () => oneStage({ dp: n, tp: 1 }, manyMicro));
  add(`dp${n} recompute`, () => oneStage({ dp: n, tp: 1, recompute: true }));
  if (tpMax > 1) add(`tp${tpMax}${n > tpMax ? ` dp${n / tpMax}` : ''} recompute`, () => oneStage({ dp: n / tpMax, tp: tpMax, recompute: true }));
  // ZeRO-1 fitted, ZeRO-2 held out (heldOutMask: positions 1, 4, 7, 10, ...).
  if (n > 1) add(`dp${n} zero1`, () => oneStage({ dp: n, tp: 1, zero: 1 }));
  if (n > 1) add(`dp${n} zero2`, () => oneStage({ dp: n, tp: 1, zero: 2 }));
  if (n > 1 && (2 * globalBatch) / n > 4) add(`pp2 1F1B dp${n / 2} c=${(2 * globalBatch) / n}`, () => pipeline(2, { dp: n / 2, tp: 1 }, '1f1b', (2 * globalBatch) / n));
  if (n >= 4 && tpMax >= 4 && allTp(2)) add(`tp2 dp${n / 2}`, () => oneStage({ dp: n / 2, tp: 2 }));
  if (n >= 4) add(`pp2 1F1B tp2 dp${n / 4}`, () => pipeline(2, { dp: n / 4, tp: 2 }, '1f1b'));
  if (n >= 4) add(`pp4 1F1B dp${n / 4}`, () => pipeline(4, { dp: n / 4, tp: 1 }, '1f1b'));
  if (n > 1) add(`fsdp dp${n} recompute`, () => oneStage({ dp: n, tp: 1, fsdp: true, recompute: true }));
  if (out.length === 0) {
    throw new UniapError('CONFIG_INVALID', `no calibration plan splits global batch ${globalBatch} over ${n} device(s); pass --batch with a multiple of ${2 * n}`);
  }
  return out;
}

/** One stage cycling tp / dp+recompute / fsdp / tp+recompute / fsdp+recompute over the layers. */
function mixedStage(model: ModelSpec, n: number, tp: number, globalBatch: number, cluster: { name: string; fingerprint: string }): Plan | null {
  if (!(globalBatch % 2 === 0 && (globalBatch / 2) % n === 0)) return null;
  const kinds: Omit<RunSketch, 'layers'>[] = [
    { dp: n / tp, tp },
    { dp: n, tp: 1, recompute: true },
    { dp: n, tp: 1, fsdp: true },
    { dp: n / tp, tp, recompute: true },
    { dp: n, tp: 1, fsdp: true, recompute: true },
  ];
  const runs = model.layers.map((l, u) => {
    let k = kinds[u % kinds.length]!;
    if (!tpDivides(l, k.tp)) k = { dp: n, tp: 1 };
    return { layers: [u, u] as [number, number], ...k };
  });
  return handPlan(model, [{ layers: [0, model.layers.length - 1], devices: n, runs }], { globalBatch, microBatches: 2, cluster, createdBy: CREATED_BY });
}

/**
 * Which of `count` plans are held out of the fit (a mask, true = held out). By default the second of
 * every three (1, 4, 7, ...): the candidates come in related groups (calibrationCandidates' order),
 * so each held-out plan has relatives in the fit, and none of its factors goes unfitted. With an
 * explicit number, that many spread evenly.
 */
export function heldOutMask(count: number, heldOut?: number): boolean[] {
  if (heldOut === undefined) return Array.from({ length: count }, (_, i) => count >= 3 && i % 3 === 1);
  const mask = new Array<boolean>(count).fill(false);
  if (heldOut <= 0) return mask;
  const step = count / heldOut;
  for (let j = 0; j < heldOut; j++) mask[Math.min(count - 1, Math.floor(step * j + step / 2))] = true;
  return mask;
}
