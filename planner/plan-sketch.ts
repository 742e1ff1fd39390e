// Plans from a compact sketch (the Plan contract, planner/plan.ts): stages and per-layer strategy runs
// become a full Plan JSON. Used by calibration (planner/calibration/plans.ts), tests and benchmarks.
import type { Plan, PlanStage, Schedule, StrategyRun } from './plan.ts';
import type { ModelSpec } from '../configs/model-spec.ts';
import { modelFingerprint } from '../configs/model-presets.ts';

/** One run of layers with a strategy; fsdp and recompute default to false. */
export interface RunSketch {
  layers: [number, number];
  dp: number;
  tp: number;
  fsdp?: boolean;
  /** ZeRO-1 or ZeRO-2 (planner/strategy.ts). */
  zero?: 1 | 2;
  recompute?: boolean;
  selectiveRecompute?: boolean;
  /** Sequence parallelism (tp > 1, blocks only). */
  sp?: boolean;
  /** Context-parallel degree (Ulysses; encoder and decoder blocks only); dp * cp * tp = devices. */
  cp?: number;
  /** Ring attention ('p2p') instead of Ulysses ('a2a', the default) under cp. */
  cpComm?: 'a2a' | 'p2p';
}

export interface StageSketch {
  layers: [number, number];
  devices: number;
  runs: RunSketch[];
}

export function handPlan(
  model: ModelSpec,
  stages: StageSketch[],
  o: {
    globalBatch: number;
    microBatches: number;
    schedule?: Schedule;
    /** The cluster the plan is for (default: none named, fingerprint '' — fits any cluster of its size). */
    cluster?: { name: string; fingerprint: string };
    createdBy?: string;
  },
): Plan {
  let rank = 0;
  const planStages: PlanStage[] = stages.map((s, index) => {
    const strategies: StrategyRun[] = s.runs.map((r) => ({
      layers: r.layers,
      dp: r.dp,
      tp: r.tp,
      ...((r.cp ?? 1) > 1 ? { cp: r.cp, ...(r.cpComm === 'p2p' ? { cpComm: 'p2p' as const } : {}) } : {}),
      ...(r.sp ? { sp: true } : {}),
      fsdp: r.fsdp ?? false,
      ...(r.zero ? { zero: r.zero } : {}),
      recompute: r.recompute ?? false,
      ...(r.selectiveRecompute ? { selectiveRecompute: true } : {}),
    }));
    const st: PlanStage = { index, layers: s.layers, ranks: [rank, s.devices], strategies };
    rank += s.devices;
    return st;
  });
  return {
    schemaVersion: 1,
    model: { name: model.name, fingerprint: modelFingerprint(model), layers: model.layers.length },
    // No fingerprint: a hand-written plan fits any cluster of its size (checkPlan).
    cluster: { name: o.cluster?.name ?? 'local-cpu', fingerprint: o.cluster?.fingerprint ?? '', devices: rank },
    globalBatch: o.globalBatch,
    microBatches: o.microBatches,
    microBatchSize: o.globalBatch / o.microBatches,
    schedule: o.schedule ?? 'gpipe',
    pipelineDegree: stages.length,
    stages: planStages,
    createdBy: o.createdBy ?? 'hand-written',
  };
}

/** Every layer of the model on `devices` devices with one strategy (one stage). */
export function uniformPlan(
  model: ModelSpec,
  devices: number,
  s: Omit<RunSketch, 'layers'>,
  o: Parameters<typeof handPlan>[2],
): Plan {
  const last = model.layers.length - 1;
  return handPlan(model, [{ layers: [0, last], devices, runs: [{ ...s, layers: [0, last] }] }], o);
}
