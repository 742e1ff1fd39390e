// The `highs` backend: HiGHS 1.15 (WebAssembly) on the boundary-form MILP (milp-model.ts) as CPLEX
// LP text, through the persistent model API so that a MIP start (setSolution) can be given. Honours
// time_limit and mip_rel_gap (HiGHS option reference, ergo-code.github.io/HiGHS options/definitions);
// of our MILP backends the only one that passes the conformance suite everywhere (conformance.test.ts). The WASM
// heap grows with the largest model and is never returned to the OS: keep instances modest.
import highsLoader from 'highs';
import type { CostTables } from '../cost-model/tables.ts';
import { UniapError } from '../../common/errors.ts';
import { checkTables, layerWithoutStrategy } from './check-tables.ts';
import { buildMilp } from './milp-model.ts';
import { toLpText } from './lp-format.ts';
import { verifySolveResult } from './verify.ts';
import { relativeGap, type SolveOptions, type SolveResult, type Solver } from './types.ts';

type Highs = Awaited<ReturnType<typeof highsLoader>>;
let highsPromise: Promise<Highs> | undefined;
function loadHighs(): Promise<Highs> {
  highsPromise ??= highsLoader();
  return highsPromise;
}

/** Binaries further than this from 0/1 mean the backend returned a fractional point. */
export const INTEGRALITY_TOL = 1e-5;

export const DEFAULT_MILP_REL_GAP = 1e-6;

export async function solveHighs(t: CostTables, opts: SolveOptions = {}): Promise<SolveResult> {
  checkTables(t);
  const method = 'highs-miqp';
  if (layerWithoutStrategy(t) >= 0) return { status: 'infeasible', boundMs: Infinity, gap: 0, method };
  const highs = await loadHighs();
  let milp: ReturnType<typeof buildMilp>;
  let model: ReturnType<typeof highs.createModel>;
  try {
    milp = buildMilp(t);
    model = highs.createModel({ format: 'lp', data: toLpText(milp.lp) });
  } catch (e) {
    // JavaScript's array and string limits (or the WASM heap) bound the MILP's size before HiGHS sees it.
    if (!(e instanceof RangeError)) throw e;
    throw new UniapError(
      'SOLVER_FAILED',
      `the MILP of ${t.layers} layers x ${t.strategies.length} strategies x ${t.stages} stages is too large for the highs backend (${e.message}); use --solver exact, which proves the same optimum`,
    );
  }
  try {
    const options: Record<string, number | boolean | string> = {
      output_flag: false,
      mip_rel_gap: opts.relGap ?? DEFAULT_MILP_REL_GAP,
      mip_abs_gap: 0,
    };
    if (opts.timeLimitMs !== undefined) options.time_limit = Math.max(0.01, opts.timeLimitMs / 1000);
    model.options.set(options);
    // Columns in the parsed model follow first appearance in the text, not our ids: map by name.
    const ncols = model.getDimensions().numCols;
    const colOf = new Map<string, number>();
    for (let j = 0; j < ncols; j++) colOf.set(model.getColName(j), j);
    const ids = milp.lp.vars.map((v) => colOf.get(v.name) ?? -1);
    if (opts.incumbent) {
      const x = milp.encode(opts.incumbent);
      const colValue = new Float64Array(ncols);
      ids.forEach((j, id) => j >= 0 && (colValue[j] = x[id]!));
      model.setSolution({ colValue });
    }
    model.run();
    const status = model.getModelStatus();
    const S = highs.constants.modelStatus;
    const info = (key: string): number | undefined => {
      const v = model.info.get(key as never) as unknown;
      return typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : undefined;
    };
    if (status === S.infeasible) return { status: 'infeasible', boundMs: Infinity, gap: 0, method };
    const hasPrimal = info('primal_solution_status') === 2;
    const dualBound = info('mip_dual_bound');
    const boundMs = dualBound !== undefined && Number.isFinite(dualBound) ? dualBound : -Infinity;
    let kind: SolveResult['status'];
    if (status === S.optimal) kind = 'optimal';
    else if (status === S.timeLimit || status === S.interrupted || status === S.iterationLimit) kind = 'time-limit';
    else throw new UniapError('SOLVER_FAILED', `HiGHS stopped with model status ${status}; retry with --solver exact`, { status });
    if (!hasPrimal) return verifySolveResult(t, { status: 'time-limit', boundMs, gap: Infinity, method });
    const col = model.getSolution().colValue;
    const { placement, fractionality } = milp.decode((id) => (ids[id]! >= 0 ? col[ids[id]!]! : milp.lp.vars[id]!.lb));
    if (fractionality > INTEGRALITY_TOL) {
      throw new UniapError('SOLVER_FAILED', `HiGHS returned a fractional point (${fractionality.toExponential(2)} from integral); retry with --solver exact`);
    }
    const claimed = model.getObjectiveValue();
    return verifySolveResult(t, { status: kind, placement, objectiveMs: claimed, boundMs, gap: relativeGap(claimed, boundMs), method }, claimed);
  } finally {
    model.dispose();
  }
}

export const highsSolver: Solver = { name: 'highs', solve: solveHighs };
