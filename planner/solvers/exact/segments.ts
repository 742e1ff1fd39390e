// Exact solver, step E3 (docs/planner.md): the segment oracle. For one memory class (stages with the
// same in-flight count) and a stage that starts at layer a with its first strategy in in-group gin,
// the least time of layers a..b ending in out-class gout under the memory budget:
//   g(a, b)[gin][gout] = min time over the labels at b (labels.ts).
// Stages starting inside a run of identical layers reuse one label sequence computed from the run's
// second layer (classes.ts), so a run of n identical blocks costs O(n) steps instead of O(n^2).
import type { Frontiers, Label, LabelContext } from './labels.ts';
import { startLabels, stepLabels } from './labels.ts';

export interface SegmentRow {
  a: number;
  nIn: number;
  /** nOut[b - a]: out-classes of layer b. */
  nOut: number[];
  /** times[b - a][gin * nOut + gout]: least time (Infinity when no segment fits). */
  times: Float64Array[];
  /** The label achieving it, for reconstruction. */
  best: (Label | null)[][];
  /** minTime[b - a][gin]: least time over gout (non-decreasing in b: the monotone stop of step E5). */
  minTime: Float64Array[];
}

export class SegmentOracle {
  private readonly rows = new Map<number, SegmentRow>();
  private readonly generic = new Map<string, Frontiers[]>();

  constructor(
    readonly ctx: LabelContext,
    /** Largest last layer a stage of this memory class starting at a can have. */
    private readonly bmaxOf: (a: number) => number,
  ) {}

  row(a: number): SegmentRow {
    let r = this.rows.get(a);
    if (!r) {
      r = this.compute(a);
      this.rows.set(a, r);
    }
    return r;
  }

  private genericLabels(x: number, gin: number, j: number): Frontiers {
    const key = `${x}|${gin}`;
    let seq = this.generic.get(key);
    if (!seq) {
      seq = [startLabels(this.ctx, x + 1, gin)];
      this.generic.set(key, seq);
    }
    while (seq.length <= j) {
      const prev = seq[seq.length - 1]!;
      seq.push(stepLabels(this.ctx, x + seq.length, prev)); // step from layer x+len to x+len+1
    }
    return seq[j]!;
  }

  private compute(a: number): SegmentRow {
    const { cl } = this.ctx;
    const bmax = this.bmaxOf(a);
    const nIn = cl.inMembers[a]!.length;
    const len = bmax - a + 1;
    const nOut = Array.from({ length: len }, (_, j) => cl.outReps[a + j]!.length);
    const times = nOut.map((n) => new Float64Array(nIn * n).fill(Number.POSITIVE_INFINITY));
    const best: (Label | null)[][] = nOut.map((n) => new Array<Label | null>(nIn * n).fill(null));
    const minTime = nOut.map(() => new Float64Array(nIn).fill(Number.POSITIVE_INFINITY));
    const record = (b: number, gin: number, fr: Frontiers): boolean => {
      const j = b - a;
      const n = nOut[j]!;
      let alive = false;
      for (let gout = 0; gout < n; gout++) {
        const x = fr[gout]![0];
        if (!x) continue;
        alive = true;
        times[j]![gin * n + gout] = x.time;
        best[j]![gin * n + gout] = x;
        if (x.time < minTime[j]![gin]!) minTime[j]![gin] = x.time;
      }
      return alive;
    };
    const x = cl.runStart[a]!;
    const y = cl.runEnd[a]!;
    for (let gin = 0; gin < nIn; gin++) {
      let cur: Frontiers;
      let u: number;
      if (a >= x + 1 && a <= y - 1) {
        // run aggregation: layers a..y-1 see the labels of a stage starting at x+1, shifted by a-x-1
        const last = Math.min(y - 1, bmax);
        cur = [];
        u = a;
        let alive = true;
        for (; u <= last; u++) {
          cur = this.genericLabels(x, gin, u - a);
          alive = record(u, gin, cur);
          if (!alive) break;
        }
        if (!alive) continue;
        u = last;
      } else {
        cur = startLabels(this.ctx, a, gin);
        u = a;
        if (!record(a, gin, cur)) continue;
      }
      while (u < bmax) {
        cur = stepLabels(this.ctx, u, cur);
        u++;
        if (!record(u, gin, cur)) break;
      }
    }
    return { a, nIn, nOut, times, best, minTime };
  }
}
