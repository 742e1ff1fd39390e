// The `lp-solver` backend: javascript-lp-solver 1.0 on the boundary-form MILP (milp-model.ts) as its
// JSON model. Measured against brute force on seeded random instances, it returned fractional points
// marked feasible, with objectives below the true optimum (8 of 96 tiny instances), and ignored its timeout (we saw it run for minutes on a
// 7-layer, 4-stage, 4-strategy instance): it runs in a worker thread that is terminated at the time
// limit, and every answer is checked for integrality and re-evaluated (verify.ts); a wrong one is a
// SOLVER_FAILED error. It reports no bound, so its status is at best 'feasible'.
import { Worker } from 'node:worker_threads';
import { createRequire } from 'node:module';
import type { Model as JslpModel } from 'javascript-lp-solver';
import type { CostTables } from '../cost-model/tables.ts';
import { UniapError } from '../../common/errors.ts';
import { checkTables, layerWithoutStrategy } from './check-tables.ts';
import { buildMilp } from './milp-model.ts';
import type { LpModel } from './lp-model.ts';
import { verifySolveResult } from './verify.ts';
import { INTEGRALITY_TOL } from './highs.ts';
import type { SolveOptions, SolveResult, Solver } from './types.ts';

const OBJ = '__tpi';
/** Default hard limit: the library's own timeout is not honoured. */
export const LP_SOLVER_DEFAULT_LIMIT_MS = 60_000;

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const solver = require(workerData.path);
parentPort.postMessage((solver.default ?? solver).Solve(workerData.model));
`;

/** Solve in a worker; null when the hard limit passed first. */
function solveInWorker(model: JslpModel, limitMs: number): Promise<Record<string, unknown> | null> {
  const path = createRequire(import.meta.url).resolve('javascript-lp-solver');
  return new Promise((resolve, reject) => {
    const w = new Worker(WORKER_SOURCE, { eval: true, workerData: { path, model } });
    const timer = setTimeout(() => {
      void w.terminate();
      resolve(null);
    }, limitMs);
    w.once('message', (m: Record<string, unknown>) => {
      clearTimeout(timer);
      void w.terminate();
      resolve(m);
    });
    w.once('error', (e) => {
      clearTimeout(timer);
      reject(new UniapError('SOLVER_FAILED', `javascript-lp-solver crashed (${String(e)}); use --solver highs or exact`));
    });
  });
}

export function toJslp(m: LpModel, timeoutMs?: number): JslpModel {
  const variables: Record<string, Record<string, number>> = {};
  const constraints: JslpModel['constraints'] = {};
  const binaries: Record<string, 1> = {};
  m.vars.forEach((v) => {
    variables[v.name] = {};
    if (v.kind === 'binary') binaries[v.name] = 1;
    // Variables are >= 0 in javascript-lp-solver; other bounds become rows.
    if (v.lb === v.ub) {
      constraints[`fix_${v.name}`] = { equal: v.lb };
      variables[v.name]![`fix_${v.name}`] = 1;
    } else if (v.kind !== 'binary' && Number.isFinite(v.ub)) {
      constraints[`ub_${v.name}`] = { max: v.ub };
      variables[v.name]![`ub_${v.name}`] = 1;
    }
    if (v.lb !== 0 && v.lb !== v.ub) throw new Error(`javascript-lp-solver translation supports lb = 0 only (${v.name})`);
  });
  for (const t of m.objective) variables[m.vars[t.v]!.name]![OBJ] = t.coef;
  for (const r of m.rows) {
    const bound = r.lo === r.hi ? { equal: r.lo } : { ...(Number.isFinite(r.lo) ? { min: r.lo } : {}), ...(Number.isFinite(r.hi) ? { max: r.hi } : {}) };
    constraints[r.name] = bound;
    for (const t of r.terms) {
      const row = variables[m.vars[t.v]!.name]!;
      row[r.name] = (row[r.name] ?? 0) + t.coef;
    }
  }
  return { optimize: OBJ, opType: 'min', constraints, variables, binaries, ...(timeoutMs !== undefined ? { options: { timeout: timeoutMs } } : {}) };
}

export async function solveLpSolver(t: CostTables, opts: SolveOptions = {}): Promise<SolveResult> {
  checkTables(t);
  const method = 'lp-solver-miqp';
  if (layerWithoutStrategy(t) >= 0) return { status: 'infeasible', boundMs: Infinity, gap: 0, method };
  const milp = buildMilp(t);
  const limitMs = opts.timeLimitMs ?? LP_SOLVER_DEFAULT_LIMIT_MS;
  const res = await solveInWorker(toJslp(milp.lp, limitMs), limitMs);
  if (res === null) return { status: 'time-limit', boundMs: -Infinity, gap: Infinity, method };
  if (!res.feasible) {
    // An unverifiable claim: it may be right, but nothing proves it.
    return { status: 'infeasible', boundMs: Infinity, gap: 0, method };
  }
  const value = (id: number): number => {
    const v = milp.lp.vars[id]!;
    const x = res[v.name];
    return typeof x === 'number' ? x : v.lb === v.ub ? v.lb : 0; // omitted variables are 0
  };
  const { placement, fractionality } = milp.decode(value);
  if (fractionality > INTEGRALITY_TOL) {
    throw new UniapError(
      'SOLVER_FAILED',
      `javascript-lp-solver returned a fractional point marked feasible (${fractionality.toExponential(2)} from integral, claimed ${String(res.result)} ms); use --solver highs or exact`,
    );
  }
  const claimed = Number(res.result);
  return verifySolveResult(t, { status: 'feasible', placement, objectiveMs: claimed, boundMs: -Infinity, gap: Infinity, method }, claimed);
}

export const lpSolverSolver: Solver = { name: 'lp-solver', solve: solveLpSolver };
