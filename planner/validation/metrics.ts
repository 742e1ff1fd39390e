// How well predictions match measurements, in the three numbers the validation reports:
// - MAPE: mean over runs of |predicted - measured| / measured (time per iteration);
// - Kendall's tau-b of predicted vs measured throughput per GPU inside each model (do the predictions
//   order the configurations of one model as the measurements do; ties count as in Kendall 1945);
// - regret: inside each model, measured throughput per GPU of the best-measured run over that of the
//   run the predictions rank first, minus 1 (what trusting the prediction to pick costs).
// Throughput per GPU (samples per second per device) makes runs of one model comparable across GPU
// counts and batch sizes; for runs of equal GPUs and batch it orders exactly as time per iteration.
// Also the median and Spearman's rho the calibration and the benchmarks report.

export interface Pair {
  predicted: number;
  measured: number;
}

/** The middle value (mean of the two middle ones for an even count). */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function mape(pairs: readonly Pair[]): number {
  if (pairs.length === 0) return NaN;
  return pairs.reduce((s, p) => s + Math.abs(p.predicted - p.measured) / p.measured, 0) / pairs.length;
}

/** Kendall's tau-b of two equally long sequences; NaN for fewer than 2 items or no untied pair. */
export function kendallTau(xs: readonly number[], ys: readonly number[]): number {
  const n = xs.length;
  let concordant = 0;
  let discordant = 0;
  let tiesX = 0;
  let tiesY = 0;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const dx = Math.sign(xs[i]! - xs[j]!);
      const dy = Math.sign(ys[i]! - ys[j]!);
      if (dx === 0 && dy === 0) continue;
      if (dx === 0) tiesX++;
      else if (dy === 0) tiesY++;
      else if (dx === dy) concordant++;
      else discordant++;
    }
  }
  const denom = Math.sqrt((concordant + discordant + tiesX) * (concordant + discordant + tiesY));
  return denom === 0 ? NaN : (concordant - discordant) / denom;
}

/** Regret of picking the predicted-best by a higher-is-better score; 0 for one item. */
export function regret(predictedScore: readonly number[], measuredScore: readonly number[]): number {
  if (predictedScore.length === 0) return NaN;
  let pick = 0;
  for (let i = 1; i < predictedScore.length; i++) if (predictedScore[i]! > predictedScore[pick]!) pick = i;
  const best = Math.max(...measuredScore);
  return best / measuredScore[pick]! - 1;
}

/** Ranks 1..n, ties get their mean rank. */
function ranksOf(xs: readonly number[]): number[] {
  const order = xs.map((x, i) => ({ x, i })).sort((a, b) => a.x - b.x);
  const r = new Array<number>(xs.length);
  for (let j = 0; j < order.length; ) {
    let k = j;
    while (k + 1 < order.length && order[k + 1]!.x === order[j]!.x) k++;
    for (let t = j; t <= k; t++) r[order[t]!.i] = (j + k) / 2 + 1;
    j = k + 1;
  }
  return r;
}

/** Spearman's rho: the Pearson correlation of the ranks (ties averaged). */
export function spearman(a: readonly number[], b: readonly number[]): number {
  const ra = ranksOf(a);
  const rb = ranksOf(b);
  const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
  const ma = mean(ra);
  const mb = mean(rb);
  let num = 0;
  let da = 0;
  let db = 0;
  for (let i = 0; i < ra.length; i++) {
    num += (ra[i]! - ma) * (rb[i]! - mb);
    da += (ra[i]! - ma) ** 2;
    db += (rb[i]! - mb) ** 2;
  }
  return da === 0 || db === 0 ? 0 : num / Math.sqrt(da * db);
}
