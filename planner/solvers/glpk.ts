// The `glpk` backend: GLPK (glpk.js 5, WebAssembly) on the boundary-form MILP (milp-model.ts) as a
// glpk.js problem object. Always presol: true (glpk.js README, jvail/glpk.js; GLPK's
// glp_intopt needs an optimal LP relaxation unless its presolver runs); fixed variables as GLP_FX
// (GLPK reference manual, glp_set_col_bnds).
// Its time limit (tmlim) is not honoured on large models: meant for small and medium instances.
import GLPK from 'glpk.js/node';
import type { LP } from 'glpk.js';
import type { CostTables } from '../cost-model/tables.ts';
import { UniapError } from '../../common/errors.ts';
import { checkTables, layerWithoutStrategy } from './check-tables.ts';
import { buildMilp } from './milp-model.ts';
import type { LpModel } from './lp-model.ts';
import { verifySolveResult } from './verify.ts';
import { INTEGRALITY_TOL, DEFAULT_MILP_REL_GAP } from './highs.ts';
import { relativeGap, type SolveOptions, type SolveResult, type Solver } from './types.ts';

type Glpk = Awaited<ReturnType<typeof GLPK>>;
let glpkPromise: Promise<Glpk> | undefined;

function bounds(g: Glpk, lb: number, ub: number): { type: number; lb: number; ub: number } {
  const lo = Number.isFinite(lb);
  const hi = Number.isFinite(ub);
  if (lo && hi) return lb === ub ? { type: g.GLP_FX, lb, ub } : { type: g.GLP_DB, lb, ub };
  if (lo) return { type: g.GLP_LO, lb, ub: 0 };
  if (hi) return { type: g.GLP_UP, lb: 0, ub };
  return { type: g.GLP_FR, lb: 0, ub: 0 };
}

export function toGlpk(g: Glpk, m: LpModel): LP {
  const vars = (terms: LpModel['objective']) => terms.map((t) => ({ name: m.vars[t.v]!.name, coef: t.coef }));
  return {
    name: 'uniap',
    objective: { direction: g.GLP_MIN, name: 'obj', vars: vars(m.objective) },
    subjectTo: m.rows.map((r) => ({ name: r.name, vars: vars(r.terms), bnds: bounds(g, r.lo, r.hi) })),
    bounds: m.vars.filter((v) => v.kind !== 'binary').map((v) => ({ name: v.name, ...bounds(g, v.lb, v.ub) })),
    binaries: m.vars.filter((v) => v.kind === 'binary').map((v) => v.name),
  };
}

export async function solveGlpk(t: CostTables, opts: SolveOptions = {}): Promise<SolveResult> {
  checkTables(t);
  const method = 'glpk-miqp';
  if (layerWithoutStrategy(t) >= 0) return { status: 'infeasible', boundMs: Infinity, gap: 0, method };
  glpkPromise ??= GLPK();
  const g = await glpkPromise;
  const milp = buildMilp(t);
  const res = g.solve(toGlpk(g, milp.lp), {
    msglev: g.GLP_MSG_OFF,
    presol: true,
    mipgap: opts.relGap ?? DEFAULT_MILP_REL_GAP,
    ...(opts.timeLimitMs !== undefined ? { tmlim: Math.max(1, Math.ceil(opts.timeLimitMs / 1000)) } : {}),
  });
  const st = res.result.status;
  if (st === g.GLP_NOFEAS) return { status: 'infeasible', boundMs: Infinity, gap: 0, method };
  if (st !== g.GLP_OPT && st !== g.GLP_FEAS) {
    if (st === g.GLP_UNDEF) return verifySolveResult(t, { status: 'time-limit', boundMs: -Infinity, gap: Infinity, method });
    throw new UniapError('SOLVER_FAILED', `GLPK stopped with status ${st}; retry with --solver exact`, { status: st });
  }
  const values = res.result.vars;
  const { placement, fractionality } = milp.decode((id) => values[milp.lp.vars[id]!.name] ?? milp.lp.vars[id]!.lb);
  if (fractionality > INTEGRALITY_TOL) {
    throw new UniapError('SOLVER_FAILED', `GLPK returned a fractional point (${fractionality.toExponential(2)} from integral); retry with --solver exact`);
  }
  const claimed = res.result.z;
  // glpk.js reports no dual bound: with status OPT the gap is within mipgap; otherwise none is known.
  const optimal = st === g.GLP_OPT;
  const rel = opts.relGap ?? DEFAULT_MILP_REL_GAP;
  const boundMs = optimal ? claimed * (1 - rel) : -Infinity;
  return verifySolveResult(
    t,
    { status: optimal ? 'optimal' : 'time-limit', placement, objectiveMs: claimed, boundMs, gap: relativeGap(claimed, boundMs), method },
    claimed,
  );
}

export const glpkSolver: Solver = { name: 'glpk', solve: solveGlpk };
