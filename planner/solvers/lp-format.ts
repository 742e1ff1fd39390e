// LpModel -> CPLEX LP text (the input format of `highs.solve` / `highs.createModel({format: 'lp'})`).
// Rows with two finite sides become two rows; fixed variables get "x = v" bounds; long rows are
// wrapped (LP readers limit line length).
import type { LpModel, LpTerm } from './lp-model.ts';

function num(x: number): string {
  // 17 significant digits round-trip a double; LP readers accept exponents.
  return Number.isInteger(x) ? String(x) : x.toPrecision(17).replace(/\.?0+(e|$)/, '$1');
}

function linear(m: LpModel, terms: LpTerm[]): string {
  if (terms.length === 0) return `0 ${m.vars[0]?.name ?? 'x'}`;
  const parts: string[] = [];
  terms.forEach((t, j) => {
    const sign = t.coef < 0 ? '-' : '+';
    const mag = Math.abs(t.coef);
    parts.push(`${j === 0 && sign === '+' ? '' : sign + ' '}${num(mag)} ${m.vars[t.v]!.name}`);
    if (j % 8 === 7) parts.push('\n   ');
  });
  return parts.join(' ');
}

export function toLpText(m: LpModel): string {
  const out: string[] = ['\\ uniap MILP (docs/planner.md M1-M11)', 'Minimize', ` obj: ${linear(m, m.objective)}`, 'Subject To'];
  for (const r of m.rows) {
    const body = linear(m, r.terms);
    if (r.lo === r.hi) out.push(` ${r.name}: ${body} = ${num(r.lo)}`);
    else {
      if (Number.isFinite(r.lo)) out.push(` ${r.name}${Number.isFinite(r.hi) ? '_lo' : ''}: ${body} >= ${num(r.lo)}`);
      if (Number.isFinite(r.hi)) out.push(` ${r.name}${Number.isFinite(r.lo) ? '_hi' : ''}: ${body} <= ${num(r.hi)}`);
    }
  }
  out.push('Bounds');
  for (const v of m.vars) {
    if (v.lb === v.ub) out.push(` ${v.name} = ${num(v.lb)}`);
    else if (v.kind === 'binary') continue;
    else if (!Number.isFinite(v.lb) && !Number.isFinite(v.ub)) out.push(` ${v.name} free`);
    else {
      const lo = Number.isFinite(v.lb) ? num(v.lb) : '-inf';
      const hi = Number.isFinite(v.ub) ? num(v.ub) : '+inf';
      if (!(v.lb === 0 && hi === '+inf')) out.push(` ${lo} <= ${v.name} <= ${hi}`);
    }
  }
  const bins = m.vars.filter((v) => v.kind === 'binary').map((v) => v.name);
  if (bins.length) {
    out.push('Binary');
    for (let j = 0; j < bins.length; j += 10) out.push(' ' + bins.slice(j, j + 10).join(' '));
  }
  out.push('End', '');
  return out.join('\n');
}
