// `estimate`: evaluate any plan (searched or hand-written) with the cost model — time per iteration
// with a breakdown (compute, exposed communication, pipeline bubble) and memory per device of every
// stage with a breakdown and an OOM verdict. Uses exactly the tables and evaluation the planner uses,
// so a searched plan's predictions equal its estimate.
import type { Plan, PlanPredictions } from './plan.ts';
import type { CostModelInput, CostModelOptions } from './cost-model/input.ts';
import type { ClusterSpec } from '../configs/cluster-spec.ts';
import { buildCostTables } from './cost-model/build.ts';
import { evaluatePlacement, stageRange } from './cost-model/evaluate.ts';
import type { DetailedLayerCost } from './cost-model/layer-cost.ts';
import { placementFromPlan } from './plan-build.ts';
import { predictions } from './predictions.ts';
import { devicesPerNode } from './cost-model/input.ts';

export interface StageMemory {
  stage: number;
  weightBytes: number;
  gradientBytes: number;
  optimizerBytes: number;
  activationBytes: number;
  inFlightMicroBatches: number;
  workspaceBytes: number;
  totalBytes: number;
  usableBytes: number;
  reservedBytes: number;
  oom: boolean;
}

export interface StageTime {
  stage: number;
  layers: [number, number];
  timeMs: number; // p_i
  computeMs: number;
  tpCommMs: number;
  fsdpExposedMs: number;
  gradSyncExposedMs: number;
  reshardMs: number;
  p2pMs: number; // o_i (to the next stage)
  overlappedCommMs: number;
}

export interface EstimateReport {
  predictions: PlanPredictions;
  timePerIterationMs: number;
  breakdown: { computeMs: number; exposedCommMs: number; bubbleMs: number };
  bottleneck: { kind: 'stage' | 'p2p'; stage: number; timeMs: number };
  stages: StageTime[];
  memory: StageMemory[];
  feasible: boolean;
  violations: string[];
}

/**
 * Options that make every strategy the plan uses available (estimate must accept any valid plan).
 * Memory is judged against the cluster's devices (or the caller's explicit budget), never against
 * the budget recorded in the plan file: a plan made with --memory-gb 200 does not fit 12 GB devices
 * because it says so (`budgetNote` tells the user when the two differ).
 */
export function optionsForPlan(plan: Plan, cluster: ClusterSpec, base: Partial<CostModelOptions> = {}): Partial<CostModelOptions> {
  const planTp = Math.max(...plan.stages.flatMap((s) => s.strategies.map((r) => r.tp)));
  const planCp = Math.max(...plan.stages.flatMap((s) => s.strategies.map((r) => r.cp ?? 1)));
  const perNode = devicesPerNode(cluster);
  const out: Partial<CostModelOptions> = {
    ...base,
    allowFsdp: true,
    allowZero: true,
    allowRecompute: true,
    allowSelectiveRecompute: true,
    allowSp: true,
    maxCp: Math.max(planCp, base.maxCp ?? 1),
    cpOnlyWhereDpCannot: false,
    maxTp: Math.max(planTp, base.maxTp ?? perNode),
    allowCrossNodeTp: (base.allowCrossNodeTp ?? false) || planTp > perNode,
  };
  return out;
}

/**
 * A line for the user when the plan was made under another usable-memory budget than the one it is
 * judged against now (the plan file records it in predictions.usableMemoryBytes); null when they agree
 * within 1% or the plan records none.
 */
export function budgetNote(plan: Plan, judgedBytes: number, clusterName: string, explicit: boolean): string | null {
  const made = plan.predictions?.usableMemoryBytes;
  if (made === undefined || Math.abs(made - judgedBytes) <= 0.01 * judgedBytes) return null;
  const gib = (b: number) => `${(b / 1024 ** 3).toFixed(2)} GiB`;
  const against = explicit ? `the --memory-gb budget of ${gib(judgedBytes)}` : `the ${gib(judgedBytes)} usable on ${clusterName}'s devices`;
  return `the plan was made for ${gib(made)} usable per device; memory is judged against ${against}${explicit ? '' : ` (pass --memory-gb ${Math.round((made / 1024 ** 3) * 100) / 100} to judge it under the plan's own budget)`}`;
}

export function estimatePlan(input0: CostModelInput, plan: Plan): EstimateReport {
  const input: CostModelInput = { ...input0, options: { ...input0.options, ...optionsForPlan(plan, input0.cluster, input0.options) } };
  const tables = buildCostTables(input, { stages: plan.pipelineDegree, microBatches: plan.microBatches, schedule: plan.schedule });
  const placement = placementFromPlan(plan, tables);
  const ev = evaluatePlacement(tables, placement);

  const stages: StageTime[] = [];
  const memory: StageMemory[] = [];
  for (let i = 0; i < tables.stages; i++) {
    const [first, last] = stageRange(placement, tables.layers, i);
    const st: StageTime = {
      stage: i, layers: [first, last], timeMs: ev.stageTimeMs[i]!, computeMs: 0, tpCommMs: 0, fsdpExposedMs: 0,
      gradSyncExposedMs: 0, reshardMs: 0, p2pMs: ev.p2pTimeMs[i]!, overlappedCommMs: 0,
    };
    const mem: StageMemory = {
      stage: i, weightBytes: 0, gradientBytes: 0, optimizerBytes: 0, activationBytes: 0, inFlightMicroBatches: tables.inFlight[i]!,
      workspaceBytes: 0, totalBytes: ev.memoryPerStageBytes[i]!, usableBytes: tables.memoryBudgetBytes,
      reservedBytes: input.profile.device.reservedBytes, oom: ev.memoryPerStageBytes[i]! > tables.memoryBudgetBytes,
    };
    for (let u = first; u <= last; u++) {
      const k = placement.strategy[u]!;
      const c = tables.cost[u]![k]! as DetailedLayerCost;
      st.computeMs += c.breakdown.computeMs;
      st.tpCommMs += c.breakdown.tpCommMs;
      st.fsdpExposedMs += c.breakdown.fsdpExposedMs;
      st.gradSyncExposedMs += c.breakdown.gradSyncExposedMs;
      st.overlappedCommMs += c.breakdown.overlappedCommMs;
      if (u < last) st.reshardMs += tables.reshardMs[u]![k]![placement.strategy[u + 1]!]!;
      mem.weightBytes += c.state.weightBytes;
      mem.gradientBytes += c.state.gradientBytes;
      mem.optimizerBytes += c.state.optimizerBytes;
      mem.activationBytes += tables.inFlight[i]! * c.activationBytes;
      mem.workspaceBytes = Math.max(mem.workspaceBytes, c.workspaceBytes);
    }
    stages.push(st);
    memory.push(mem);
  }

  // Decompose TPI = sum p + sum o + (c-1) * bottleneck into c * bottleneck (steady state: compute and
  // exposed communication of the bottleneck) + the pipeline bubble (sum p + sum o - bottleneck).
  const c = tables.microBatches;
  let bottleneck: EstimateReport['bottleneck'] = { kind: 'stage', stage: 0, timeMs: -1 };
  stages.forEach((s) => {
    if (s.timeMs > bottleneck.timeMs) bottleneck = { kind: 'stage', stage: s.stage, timeMs: s.timeMs };
  });
  stages.forEach((s) => {
    if (s.p2pMs > bottleneck.timeMs) bottleneck = { kind: 'p2p', stage: s.stage, timeMs: s.p2pMs };
  });
  const b = stages[bottleneck.stage]!;
  const computeMs = bottleneck.kind === 'stage' ? c * b.computeMs : 0;
  const exposedCommMs = c * bottleneck.timeMs - computeMs;
  const bubbleMs = ev.timePerIterationMs - c * bottleneck.timeMs;

  return {
    predictions: predictions(input.model, input.cluster, input.globalBatch, ev, tables.memoryBudgetBytes),
    timePerIterationMs: ev.timePerIterationMs,
    breakdown: { computeMs, exposedCommMs, bubbleMs },
    bottleneck,
    stages,
    memory,
    feasible: ev.feasible,
    violations: ev.violations,
  };
}
