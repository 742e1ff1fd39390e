// A solver-neutral linear model (variables with bounds, ranged rows, a linear objective to minimize)
// and a small builder for linear expressions. milp-model.ts writes the UniAP MILP once in this form;
// lp-format.ts, glpk.ts and lp-solver.ts translate it per backend.

export type VarKind = 'continuous' | 'binary';

export interface LpVar {
  name: string;
  lb: number;
  ub: number;
  kind: VarKind;
}

export interface LpTerm {
  v: number;
  coef: number;
}

/** lo <= sum coef * x <= hi (either side may be infinite; lo === hi is an equality). */
export interface LpRow {
  name: string;
  terms: LpTerm[];
  lo: number;
  hi: number;
}

export interface LpModel {
  vars: LpVar[];
  rows: LpRow[];
  /** Minimize sum coef * x + objectiveConstant. */
  objective: LpTerm[];
  objectiveConstant: number;
}

/** A linear expression: terms plus a constant (fixed variables are folded into the constant by callers if they like). */
export class Expr {
  readonly terms = new Map<number, number>();
  constant = 0;
  add(v: number | null, coef: number): this {
    if (coef === 0) return this;
    if (v === null) {
      this.constant += coef;
      return this;
    }
    this.terms.set(v, (this.terms.get(v) ?? 0) + coef);
    return this;
  }
  addExpr(e: Expr, scale = 1): this {
    for (const [v, c] of e.terms) this.add(v, c * scale);
    this.constant += e.constant * scale;
    return this;
  }
}

export class LpBuilder {
  readonly model: LpModel = { vars: [], rows: [], objective: [], objectiveConstant: 0 };
  private readonly names = new Map<string, number>();

  variable(name: string, lb: number, ub: number, kind: VarKind = 'continuous'): number {
    if (this.names.has(name)) throw new Error(`duplicate variable ${name}`);
    const id = this.model.vars.length;
    // A fixed variable needs no integrality (GLP_FX in GLPK, "x = v" in LP text).
    this.model.vars.push({ name, lb, ub, kind: lb === ub ? 'continuous' : kind });
    this.names.set(name, id);
    return id;
  }

  /** lo <= e <= hi; the expression's constant moves to the bounds. */
  row(name: string, e: Expr, lo: number, hi: number): void {
    const terms: LpTerm[] = [];
    for (const [v, coef] of e.terms) if (coef !== 0) terms.push({ v, coef });
    this.model.rows.push({ name, terms, lo: lo - e.constant, hi: hi - e.constant });
  }

  objective(e: Expr): void {
    this.model.objective = [...e.terms].filter(([, c]) => c !== 0).map(([v, coef]) => ({ v, coef }));
    this.model.objectiveConstant = e.constant;
  }
}

/** Value of the objective and the largest row violation of an assignment (for warm-start checks and tests). */
export function checkAssignment(m: LpModel, x: ArrayLike<number>): { objective: number; maxViolation: number } {
  let worst = 0;
  m.vars.forEach((v, i) => {
    worst = Math.max(worst, v.lb - x[i]!, x[i]! - v.ub);
  });
  for (const r of m.rows) {
    let s = 0;
    for (const t of r.terms) s += t.coef * x[t.v]!;
    worst = Math.max(worst, r.lo - s, s - r.hi);
  }
  let obj = m.objectiveConstant;
  for (const t of m.objective) obj += t.coef * x[t.v]!;
  return { objective: obj, maxViolation: worst };
}
