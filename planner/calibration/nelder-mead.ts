// Derivative-free minimization (Nelder & Mead 1965, "A simplex method for function minimization",
// The Computer Journal 7(4)), with the standard coefficients: reflection 1, expansion 2, contraction
// 1/2, shrink 1/2. Used for the few calibration factors, whose objective has kinks (the cost model's
// max() terms) and no gradient.

export interface MinimizeOptions {
  /** Initial simplex edge per coordinate (default 0.5). */
  step?: number | number[];
  maxIterations?: number;
  /** Stop when the simplex's objective values differ by less than this. */
  tolerance?: number;
}

export function nelderMead(f: (x: number[]) => number, x0: number[], o: MinimizeOptions = {}): { x: number[]; value: number; iterations: number } {
  const n = x0.length;
  const steps = Array.isArray(o.step) ? o.step : new Array<number>(n).fill(o.step ?? 0.5);
  const maxIterations = o.maxIterations ?? 200 * n;
  const tolerance = o.tolerance ?? 1e-10;
  let simplex = [x0, ...x0.map((_, i) => x0.map((v, j) => (i === j ? v + steps[i]! : v)))].map((x) => ({ x, v: f(x) }));
  const combine = (a: number[], b: number[], t: number) => a.map((ai, i) => ai + t * (b[i]! - ai));
  let it = 0;
  for (; it < maxIterations; it++) {
    simplex.sort((a, b) => a.v - b.v);
    const best = simplex[0]!;
    const worst = simplex[n]!;
    if (Math.abs(worst.v - best.v) <= tolerance) break;
    const centroid = x0.map((_, j) => simplex.slice(0, n).reduce((s, p) => s + p.x[j]!, 0) / n);
    const reflected = combine(centroid, worst.x, -1);
    const fr = f(reflected);
    if (fr < best.v) {
      const expanded = combine(centroid, worst.x, -2);
      const fe = f(expanded);
      simplex[n] = fe < fr ? { x: expanded, v: fe } : { x: reflected, v: fr };
    } else if (fr < simplex[n - 1]!.v) {
      simplex[n] = { x: reflected, v: fr };
    } else {
      const outside = fr < worst.v;
      const contracted = combine(centroid, outside ? reflected : worst.x, 0.5);
      const fc = f(contracted);
      if (fc < (outside ? fr : worst.v)) simplex[n] = { x: contracted, v: fc };
      else simplex = simplex.map((p, i) => (i === 0 ? p : { x: combine(best.x, p.x, 0.5), v: f(combine(best.x, p.x, 0.5)) }));
    }
  }
  simplex.sort((a, b) => a.v - b.v);
  return { x: simplex[0]!.x, value: simplex[0]!.v, iterations: it };
}
