// The solver registry: one name per backend behind the Solver interface (types.ts).
import { UniapError } from '../../common/errors.ts';
import type { Solver } from './types.ts';
import { exactSolver } from './exact/exact.ts';
import { highsSolver } from './highs.ts';
import { glpkSolver } from './glpk.ts';
import { lpSolverSolver } from './lp-solver.ts';
import { bruteForceSolver } from './brute-force.ts';

export const SOLVERS: Readonly<Record<string, Solver>> = {
  exact: exactSolver,
  highs: highsSolver,
  glpk: glpkSolver,
  'lp-solver': lpSolverSolver,
  'brute-force': bruteForceSolver,
};

export type SolverName = 'exact' | 'highs' | 'glpk' | 'lp-solver' | 'brute-force';
export const SOLVER_NAMES = Object.keys(SOLVERS) as SolverName[];

export function getSolver(name: string): Solver {
  const s = SOLVERS[name];
  if (!s) throw new UniapError('CONFIG_INVALID', `unknown solver "${name}"; use one of ${SOLVER_NAMES.join(', ')}`);
  return s;
}

export type { Solver, SolveOptions, SolveResult, SolveStatus } from './types.ts';
