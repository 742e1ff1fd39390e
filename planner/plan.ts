// The Plan contract: how to run one model on one cluster. A plan found by the planner and a plan
// written by hand are the same type; `estimate` and `launch` accept either. JSON with a schema version.
import type { Strategy } from './strategy.ts';

export const PLAN_SCHEMA_VERSION = 1;

export type Schedule = 'gpipe' | '1f1b';

/** A run of consecutive layers (inclusive range, model layer order) sharing one strategy. */
export interface StrategyRun extends Strategy {
  layers: [number, number];
}

export interface PlanStage {
  index: number;
  /** Inclusive range of layer indices (model layer order) on this stage. */
  layers: [number, number];
  /** Global ranks of the stage's devices: [first, count]; stages get consecutive ranks. */
  ranks: [number, number];
  /** Strategies of the stage's layers as runs covering `layers` exactly. */
  strategies: StrategyRun[];
}

export interface PlanPredictions {
  timePerIterationMs: number;
  samplesPerSecond: number;
  tokensPerSecond: number;
  /** Model FLOPs utilization (recomputation not counted). */
  mfu: number;
  /** Peak bytes per device of each stage. */
  memoryPerStageBytes: number[];
  usableMemoryBytes: number;
}

export interface PlanSearch {
  /** Which method produced / proved the plan: "exact", "highs-miqp", "glpk-miqp", "brute-force", ... */
  method: string;
  status: 'optimal' | 'time-limit' | 'feasible';
  /** Lower bound on time per iteration proven by the method (ms), and relative gap to it. */
  boundMs: number;
  gap: number;
  searchTimeMs: number;
  /** Configurations (d, c) examined and pruned by the outer loop. */
  configurationsTried: number;
  configurationsPruned: number;
  solverCalls?: number;
}

export interface Plan {
  schemaVersion: typeof PLAN_SCHEMA_VERSION;
  model: { name: string; fingerprint: string; layers: number };
  cluster: { name: string; fingerprint: string; devices: number };
  /** The profile the plan was made with: provenance summary and fingerprint. */
  profile?: { kind: string; device: string; tool: string; fingerprint: string };
  globalBatch: number;
  microBatches: number;
  microBatchSize: number;
  schedule: Schedule;
  pipelineDegree: number;
  stages: PlanStage[];
  predictions?: PlanPredictions;
  search?: PlanSearch;
  /** Free-form provenance: "uniap plan 0.1.0", "hand-written". */
  createdBy?: string;
}
