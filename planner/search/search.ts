// searchPlan: UniAP's Algorithm 1 (arXiv 2307.16375) with bounds (docs/planner.md steps S1-S5).
// S1 enumerate (d, c, schedule); S2 a cheap lower bound per configuration from its cost rows, sort by
// it, drop dominated schedules; S3 solve in that order with the incumbent as cutoff, skipping every
// configuration whose bound cannot beat it; S4 if nothing fits, explain why (infeasible.ts); S5 tidy
// the strategy runs. The exact solver proves optimality for the cost model; a MILP backend
// (--solver highs|glpk|lp-solver) then solves the MIQP of record warm-started by it.
import type { CostModelInput } from '../cost-model/input.ts';
import type { CostTables, Placement } from '../cost-model/tables.ts';
import { pruneDominated } from '../cost-model/dominated-strategies.ts';
import { buildCostTables } from '../cost-model/build.ts';
import type { Plan, PlanSearch } from '../plan.ts';
import { planFromPlacement } from '../plan-build.ts';
import { totalDevices } from '../../configs/cluster-spec.ts';
import { UniapError } from '../../common/errors.ts';
import { getSolver } from '../solvers/index.ts';
import { relativeGap, type SolveResult } from '../solvers/types.ts';
import { solveExact, cheapBounds } from '../solvers/exact/exact.ts';
import { OBJECTIVE_RTOL } from '../solvers/verify.ts';
import { configurations, type Configuration, type ScheduleChoice } from './configurations.ts';
import { infeasibleError } from './infeasible.ts';
import { coverageNotes, profileCoverageGaps } from './coverage.ts';
import { scheduleDominates } from './dominance.ts';
import { tidyPlacement } from './tidy.ts';
import { evenSplit } from '../baselines/even-split.ts';
import { uniformCandidates } from '../baselines/megatron.ts';

export interface SearchProgress {
  done: number;
  total: number;
  pruned: number;
  bestMs?: number;
  config: Configuration;
  elapsedMs: number;
}

export interface SearchOptions {
  schedule?: ScheduleChoice;
  /** exact (default), highs, glpk, lp-solver, brute-force. */
  solver?: string;
  /** Time limit per MILP solve (ms). The exact solver always finishes. */
  timeLimitMs?: number;
  /** Accept a plan within this relative gap of the bound (default 0). */
  relGap?: number;
  stages?: number[];
  microBatches?: number[];
  onProgress?: (p: SearchProgress) => void;
}

export interface ConfigurationOutcome extends Configuration {
  /**
   * pruned: skipped by the cheap bound; dominated: the same tables as the 1F1B configuration with more
   * micro-batches in flight (dominance.ts); cutoff: the solver proved nothing here beats the incumbent.
   */
  status: 'pruned' | 'dominated' | SolveResult['status'];
  lowerBoundMs: number;
  objectiveMs?: number;
  method?: string;
  solveMs?: number;
}

export interface SearchResult {
  plan: Plan;
  tables: CostTables;
  placement: Placement;
  search: PlanSearch;
  outcomes: ConfigurationOutcome[];
  /**
   * What the user should know about how the search space was restricted, one line each (e.g. a
   * profile that lacks some tensor-parallel degrees of a layer: those were not searched). Empty
   * when nothing was restricted. The CLI prints them below the plan.
   */
  notes: string[];
}

export async function searchPlan(input: CostModelInput, opts: SearchOptions = {}): Promise<SearchResult> {
  const started = performance.now();
  const solverName = opts.solver ?? 'exact';
  const solver = getSolver(solverName);
  const relGap = opts.relGap ?? 0;
  const space = { schedule: opts.schedule, stages: opts.stages, microBatches: opts.microBatches };
  const configs = configurations(input, space);
  const n = totalDevices(input.cluster);
  if (configs.length === 0) throw new UniapError('DEGREE_MISMATCH', `no configuration to search for ${n} devices; check --stages and --micro-batches`);
  const notes = coverageNotes(input, profileCoverageGaps(input, configs));

  // S2: cheap bounds, then solve in ascending order (ties: 1F1B first); schedules proven dominated are dropped.
  const ranked: { config: Configuration; lb: number; tables?: CostTables }[] = [];
  let start: { config: Configuration; placement: Placement; objectiveMs: number; tables: CostTables } | undefined;
  const dominated: Configuration[] = [];
  const oneF1B = new Map<string, CostTables>();
  for (const config of configs) {
    const t = buildCostTables(input, config);
    const key = `${config.stages}/${config.microBatches}`;
    if (config.schedule === '1f1b') oneF1B.set(key, t);
    else {
      const other = oneF1B.get(key);
      if (other && scheduleDominates(other, t)) {
        dominated.push(config);
        continue;
      }
    }
    const lb = cheapBounds(t).tpiLbMs;
    // A first incumbent: the best uniform strategy on the even split (the Megatron-style baseline).
    for (const u of uniformCandidates(t, evenSplit(input.model, config.stages), { fsdp: true })) {
      if (u.feasible && u.timePerIterationMs < (start?.objectiveMs ?? Infinity)) start = { config, placement: u.placement, objectiveMs: u.timePerIterationMs, tables: t };
    }
    // Keep the tables of configurations that may still be solved (building them is most of this
    // phase); those that cannot beat the first incumbent will be pruned and are rebuilt never.
    const entry: (typeof ranked)[number] = { config, lb };
    if (lb < (start?.objectiveMs ?? Infinity)) entry.tables = t;
    ranked.push(entry);
    if (start) for (const r of ranked) if (r.lb >= start.objectiveMs) delete r.tables;
  }
  oneF1B.clear();
  ranked.sort((x, y) => x.lb - y.lb || (x.config.schedule === '1f1b' ? -1 : 1) - (y.config.schedule === '1f1b' ? -1 : 1));

  let best: { tables: CostTables; placement: Placement; objectiveMs: number; config: Configuration } | undefined;
  if (start) best = { ...start };
  const outcomes: ConfigurationOutcome[] = dominated.map((c) => ({ ...c, status: 'dominated' as const, lowerBoundMs: Number.NaN }));
  let pruned = dominated.length;
  let solverCalls = 0;
  let unproven = false; // a configuration solved without proof (lp-solver, time limit)
  let milpProved = true;
  let milpMethod = ''; // the MILP backend's method, once it has run
  let milpGap = 0;
  const incumbent = () => best?.objectiveMs ?? Number.POSITIVE_INFINITY;

  for (const [idx, entry] of ranked.entries()) {
    const { config, lb } = entry;
    const report = () =>
      opts.onProgress?.({ done: dominated.length + idx + 1, total: configs.length, pruned, bestMs: best?.objectiveMs, config, elapsedMs: performance.now() - started });
    if (lb >= incumbent() * (1 - relGap)) {
      pruned++;
      delete entry.tables;
      outcomes.push({ ...config, status: 'pruned', lowerBoundMs: lb });
      report();
      continue;
    }
    // Dominated strategies are left out of the solve (dominated-strategies.ts: the optimum does not change).
    const t = pruneDominated(entry.tables ?? buildCostTables(input, config)).tables;
    delete entry.tables;
    const t0 = performance.now();
    // S3: the exact solver is the fast path and the bound; a MILP backend then solves the MIQP warm-started.
    solverCalls++;
    let r = await solveExact(t, { upperBoundMs: incumbent(), relGap });
    let method = 'exact';
    if (solverName !== 'exact' && r.placement) {
      solverCalls++;
      const m = await solver.solve(t, { incumbent: r.placement, timeLimitMs: opts.timeLimitMs, relGap: opts.relGap });
      method = m.method;
      milpMethod = m.method;
      if (m.status === 'infeasible' || (m.placement && m.objectiveMs! < r.objectiveMs! * (1 - OBJECTIVE_RTOL))) {
        // Both answers were re-evaluated; they cannot both be right.
        throw new UniapError(
          'SOLVER_FAILED',
          `${m.method} and the exact solver disagree on ${config.stages} stages and ${config.microBatches} micro-batches (${m.status} ${m.objectiveMs ?? ''} vs ${r.objectiveMs} ms); please report this instance`,
        );
      }
      if (m.status !== 'optimal') {
        milpProved = false;
        milpGap = Math.max(milpGap, relativeGap(r.objectiveMs, m.boundMs));
      }
    }
    const solveMs = performance.now() - t0;
    if (r.status !== 'optimal') unproven ||= r.status === 'time-limit' || r.status === 'feasible';
    outcomes.push({ ...config, status: r.status, lowerBoundMs: Math.max(lb, r.boundMs), objectiveMs: r.objectiveMs, method, solveMs });
    if (r.placement && r.objectiveMs! < incumbent()) best = { tables: t, placement: r.placement, objectiveMs: r.objectiveMs!, config };
    report();
  }

  if (!best) throw infeasibleError(input, space, notes);
  // The proven bound: least over configurations of what is known about each.
  const boundMs = Math.min(
    best.objectiveMs,
    ...outcomes.map((o) => (o.status === 'infeasible' || o.status === 'dominated' ? Number.POSITIVE_INFINITY : o.lowerBoundMs)),
  );
  const gap = relativeGap(best.objectiveMs, boundMs);
  const proved = !unproven && gap <= relGap + 1e-12;
  // Which method proved the plan: the MILP backend if it proved every configuration it was given,
  // otherwise the exact solver (and the MILP's gap is reported alongside).
  let method = 'exact';
  // A MILP backend that never ran (every configuration pruned, or proven by the exact solver to hold
  // nothing better than the incumbent) proved nothing: the method is the exact solver's.
  if (solverName !== 'exact' && milpMethod !== '') method = milpProved ? milpMethod : `exact (${milpMethod} stopped with gap ${milpGap.toExponential(2)})`;
  const search: PlanSearch = {
    method,
    status: proved ? 'optimal' : unproven ? 'feasible' : 'time-limit',
    boundMs,
    gap,
    searchTimeMs: performance.now() - started,
    configurationsTried: outcomes.length - pruned,
    configurationsPruned: pruned,
    solverCalls,
  };
  const placement = tidyPlacement(best.tables, best.placement);
  const plan = planFromPlacement(input, best.tables, placement, search);
  return { plan, tables: best.tables, placement, search, outcomes, notes };
}
