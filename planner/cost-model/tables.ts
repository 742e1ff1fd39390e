// CostTables: the cost model's answer for one outer-loop configuration (pipeline degree d,
// micro-batch count c, schedule), in the notation of UniAP (arXiv 2307.16375, section 3) and
// docs/planner.md. Every solver (exact, MILP backends, brute force) reads only these tables, and
// `evaluatePlacement` (planner/cost-model/evaluate.ts) turns a placement + strategy choice into
// time and memory with the same numbers, so a plan's prediction equals `estimate` on its JSON.
import type { Strategy } from '../strategy.ts';
import type { Schedule } from '../plan.ts';

export interface LayerCostBreakdown {
  /** Forward + backward (+ a recomputed forward) compute on one device, one micro-batch. */
  computeMs: number;
  /** Tensor-parallel all-reduces (on the critical path, not overlapped). */
  tpCommMs: number;
  /** FSDP all-gathers / reduce-scatters per micro-batch not hidden behind compute (prefetch one layer ahead). */
  fsdpExposedMs: number;
  /** This layer's share of the per-iteration gradient synchronization that is not hidden behind backward, divided by c. */
  gradSyncExposedMs: number;
  /** Communication time hidden behind compute (for the overlap report). */
  overlappedCommMs: number;
}

export interface LayerCost {
  /** A[u][k]: time per micro-batch = sum of the breakdown. */
  timeMs: number;
  breakdown: LayerCostBreakdown;
  /** Parameters + gradients + optimizer states on each device of the stage (bytes). */
  stateBytes: number;
  /** Activations kept per in-flight micro-batch on each device (bytes). */
  activationBytes: number;
  /** Transient peak while the layer runs (bytes); a stage needs the max over its layers. */
  workspaceBytes: number;
}

export interface CostTables {
  schedule: Schedule;
  /** Pipeline degree d, micro-batch count c, micro-batch size b = B / c, devices per stage g = n / d. */
  stages: number;
  microBatches: number;
  microBatchSize: number;
  devicesPerStage: number;
  /** Layer count L (model layer order). */
  layers: number;
  /** K: strategies available to every layer of a stage of g devices. */
  strategies: Strategy[];
  /**
   * allowed[u][k]: strategy k is valid for layer u (tp divides heads/FFN, dp divides b, ...).
   * Solvers must pick an allowed strategy.
   */
  allowed: boolean[][];
  /**
   * uncoveredTp[u]: the tensor-parallel degrees among `strategies` that layer u could split into but
   * the profile has no entry for (so they are not allowed); undefined when the profile covers them all.
   */
  uncoveredTp?: (readonly number[] | undefined)[];
  /** cost[u][k], defined where allowed. */
  cost: LayerCost[][];
  /** R[u][k][l]: resharding time per micro-batch between layer u (strategy k) and u+1 (strategy l) on one stage. */
  reshardMs: number[][][];
  /**
   * R'[u][k][l]: P2P time per micro-batch (forward activation + backward gradient) when the stage
   * boundary falls between layer u and u+1, for a boundary inside a node ([0]) or across nodes ([1]).
   */
  p2pMs: [number[][][], number[][][]];
  /** For boundary i (between stage i and i+1, i = 0..d-2): does it cross nodes? (0/1 index into p2pMs) */
  boundaryClass: (0 | 1)[];
  /** Micro-batches whose activations stage i keeps at its peak: GPipe c; 1F1B min(d - i, c). */
  inFlight: number[];
  /** Memory budget per device (usable memory: capacity less reserved). */
  memoryBudgetBytes: number;
}

/** A complete choice: the first layer of each stage and a strategy index per layer. */
export interface Placement {
  /** stageStart[i] = first layer of stage i; stageStart[0] = 0; strictly increasing; length d. */
  stageStart: number[];
  /** strategy[u] = index into CostTables.strategies. */
  strategy: number[];
}

export interface PlacementEvaluation {
  /** Per stage: p_i (compute incl. resharding), o_i (P2P out of stage i, 0 for the last). */
  stageTimeMs: number[];
  p2pTimeMs: number[];
  /** sum p + sum o + (c - 1) * max(max p, max o)   (UniAP objective, GPipe; 1F1B has the same time). */
  timePerIterationMs: number;
  /** Per stage: state + inFlight * activation + max workspace. */
  memoryPerStageBytes: number[];
  feasible: boolean;
  /** When infeasible: which constraint binds, e.g. "memory of stage 2: 91.2 GiB > 79.0 GiB". */
  violations: string[];
}
