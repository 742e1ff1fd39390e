// Conversions between a solver's Placement and the Plan JSON: planFromPlacement (solver -> plan) and
// placementFromPlan (plan -> placement, for `estimate` and for checking a plan against tables).
import type { Plan, PlanSearch, PlanStage, StrategyRun } from './plan.ts';
import { PLAN_SCHEMA_VERSION } from './plan.ts';
import type { CostTables, Placement } from './cost-model/tables.ts';
import type { CostModelInput } from './cost-model/input.ts';
import { evaluatePlacement, stageRange } from './cost-model/evaluate.ts';
import { predictions } from './predictions.ts';
import { sameStrategy, describeStrategy, gradDp } from './strategy.ts';
import { totalDevices } from '../configs/cluster-spec.ts';
import { modelFingerprint } from '../configs/model-presets.ts';
import { clusterFingerprint } from '../configs/cluster-presets.ts';
import { profileFingerprint } from '../profiler/profile-io.ts';
import { UniapError } from '../common/errors.ts';

export function planFromPlacement(input: CostModelInput, tables: CostTables, placement: Placement, search?: PlanSearch): Plan {
  const evaluation = evaluatePlacement(tables, placement);
  if (!evaluation.feasible) {
    throw new UniapError('SOLVER_FAILED', `refusing to export an invalid plan: ${evaluation.violations.join('; ')}`);
  }
  const g = tables.devicesPerStage;
  const stages: PlanStage[] = [];
  for (let i = 0; i < tables.stages; i++) {
    const [first, last] = stageRange(placement, tables.layers, i);
    const runs: StrategyRun[] = [];
    for (let u = first; u <= last; u++) {
      const s = tables.strategies[placement.strategy[u]!]!;
      const prev = runs[runs.length - 1];
      if (prev && sameStrategy(prev, s)) prev.layers[1] = u;
      else {
        runs.push({
          layers: [u, u],
          dp: s.dp,
          tp: s.tp,
          ...((s.cp ?? 1) > 1 ? { cp: s.cp, ...(s.cpComm === 'p2p' ? { cpComm: 'p2p' as const } : {}) } : {}),
          ...(s.sp ? { sp: true } : {}),
          fsdp: s.fsdp,
          ...(s.zero ? { zero: s.zero } : {}),
          recompute: s.recompute,
          ...(s.selectiveRecompute ? { selectiveRecompute: true } : {}),
        });
      }
    }
    stages.push({ index: i, layers: [first, last], ranks: [i * g, g], strategies: runs });
  }
  const usable = tables.memoryBudgetBytes;
  const plan: Plan = {
    schemaVersion: PLAN_SCHEMA_VERSION,
    model: { name: input.model.name, fingerprint: modelFingerprint(input.model), layers: input.model.layers.length },
    cluster: { name: input.cluster.name, fingerprint: clusterFingerprint(input.cluster), devices: totalDevices(input.cluster) },
    profile: {
      kind: input.profile.provenance.kind,
      device: input.profile.provenance.device,
      tool: input.profile.provenance.tool,
      fingerprint: profileFingerprint(input.profile),
    },
    globalBatch: input.globalBatch,
    microBatches: tables.microBatches,
    microBatchSize: tables.microBatchSize,
    schedule: tables.schedule,
    pipelineDegree: tables.stages,
    stages,
    predictions: predictions(input.model, input.cluster, input.globalBatch, evaluation, usable),
    createdBy: 'uniap plan',
  };
  if (search) plan.search = search;
  return plan;
}

/** The placement a plan describes, with strategy indices into `tables.strategies`. */
export function placementFromPlan(plan: Plan, tables: CostTables): Placement {
  const stageStart = plan.stages.map((s) => s.layers[0]);
  const strategy = new Array<number>(tables.layers).fill(-1);
  for (const stage of plan.stages) {
    for (const run of stage.strategies) {
      // FSDP or ZeRO over a data-parallel group of one (dp x cp = 1) is plain replication: normalize it.
      const D = gradDp(run);
      const want = { ...run, fsdp: run.fsdp && D > 1, zero: D > 1 ? run.zero : undefined };
      const k = tables.strategies.findIndex((s) => sameStrategy(s, want));
      if (k < 0) {
        throw new UniapError(
          'DEGREE_MISMATCH',
          `stage ${stage.index} layers ${run.layers[0]}-${run.layers[1]}: strategy "${describeStrategy(run)}" is not available on a stage of ${tables.devicesPerStage} devices; dp x cp x tp must equal ${tables.devicesPerStage}`,
        );
      }
      for (let u = run.layers[0]; u <= run.layers[1]; u++) strategy[u] = k;
    }
  }
  return { stageStart, strategy };
}
