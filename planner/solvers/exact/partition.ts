// Exact solver, step E5 (docs/planner.md): the outer problem over contiguous partitions, solved by a
// dynamic program over (stage i, first layer a, in-group of the first strategy) from the last stage
// backwards, with the segment oracle for stage times and R' for the P2P between stages.
//   sum mode: least  sum_i p_i + sum_i o_i  subject to every p_i <= cap and o_i <= cap;
//   max mode: least  max(max_i p_i, max_i o_i)  (the smallest achievable bottleneck).
// Stage times only grow when a stage takes more layers, so the scan over the last layer b stops at
// the first b whose best time exceeds the cap (or the best value found, in max mode).
import type { CostTables } from '../../cost-model/tables.ts';
import type { LayerClasses } from './classes.ts';
import type { SegmentOracle } from './segments.ts';

export interface PartitionPath {
  /** First layer, in-group of the first strategy and out-class of the last strategy, per stage. */
  starts: number[];
  gin: number[];
  gout: number[];
  stageTimeMs: number[];
  p2pTimeMs: number[];
  sumMs: number;
  bottleneckMs: number;
}

export interface PartitionContext {
  t: CostTables;
  cl: LayerClasses;
  /** The segment oracle serving stage i (by its in-flight count). */
  oracleOf: SegmentOracle[];
  stats: { passes: number; transitions: number };
  /** Optional fixed stage boundaries (the Galvatron-style baseline): stage i is layers fixedStarts[i]..fixedStarts[i+1]-1. */
  fixedStarts?: number[];
}

export function partitionDp(pc: PartitionContext, mode: 'sum' | 'max', cap: number): PartitionPath | null {
  const { t, cl } = pc;
  const L = t.layers;
  const d = t.stages;
  const INF = Number.POSITIVE_INFINITY;
  pc.stats.passes++;
  // f[i][a][gin], with the choice (b, gout, gin of stage i+1) that achieves it
  const f: (Float64Array | undefined)[][] = [];
  const chB: (Int32Array | undefined)[][] = [];
  const chOut: (Int32Array | undefined)[][] = [];
  const chIn: (Int32Array | undefined)[][] = [];
  for (let i = d - 1; i >= 0; i--) {
    const fixed = pc.fixedStarts;
    const lo = fixed ? fixed[i]! : i === 0 ? 0 : i;
    const hi = fixed ? fixed[i]! : i === 0 ? 0 : L - d + i;
    const fi: (Float64Array | undefined)[] = new Array(L);
    const bi: (Int32Array | undefined)[] = new Array(L);
    const oi: (Int32Array | undefined)[] = new Array(L);
    const ni: (Int32Array | undefined)[] = new Array(L);
    const bEnd = L - d + i; // last layer stage i may hold
    // h[b][gout]: best continuation after a stage ending at b in out-class gout
    let h: (Float64Array | undefined)[] = [];
    let hIn: (Int32Array | undefined)[] = [];
    if (i < d - 1) {
      const cls = t.boundaryClass[i]!;
      const P = t.p2pMs[cls];
      const next = f[i + 1]!;
      h = new Array(L);
      hIn = new Array(L);
      for (let b = fixed ? fixed[i + 1]! - 1 : i; b <= (fixed ? fixed[i + 1]! - 1 : bEnd); b++) {
        const fn = next[b + 1];
        if (!fn) continue;
        const reps = cl.outReps[b]!;
        const inReps = cl.inReps[b + 1]!;
        const hb = new Float64Array(reps.length).fill(INF);
        const hib = new Int32Array(reps.length).fill(-1);
        for (let go = 0; go < reps.length; go++) {
          const row = P[b]![reps[go]!]!;
          for (let gi = 0; gi < inReps.length; gi++) {
            const rest = fn[gi]!;
            if (rest === INF) continue;
            const o = row[inReps[gi]!]!;
            if (o > cap) continue;
            const v = mode === 'sum' ? o + rest : Math.max(o, rest);
            if (v < hb[go]!) {
              hb[go] = v;
              hib[go] = gi;
            }
          }
        }
        h[b] = hb;
        hIn[b] = hib;
      }
    }
    for (let a = lo; a <= hi; a++) {
      const row = pc.oracleOf[i]!.row(a);
      const nIn = row.nIn;
      const fa = new Float64Array(nIn).fill(INF);
      const ba = new Int32Array(nIn).fill(-1);
      const oa = new Int32Array(nIn).fill(-1);
      const na = new Int32Array(nIn).fill(-1);
      for (let gin = 0; gin < nIn; gin++) {
        const bFrom = i === d - 1 ? L - 1 : fixed ? fixed[i + 1]! - 1 : a;
        const bTo = i === d - 1 ? L - 1 : fixed ? fixed[i + 1]! - 1 : bEnd;
        for (let b = bFrom; b <= bTo; b++) {
          const j = b - a;
          if (j >= row.times.length) break;
          const least = row.minTime[j]![gin]!;
          if (least > cap || (mode === 'max' && least >= fa[gin]!)) break;
          const n = row.nOut[j]!;
          const times = row.times[j]!;
          for (let gout = 0; gout < n; gout++) {
            const g = times[gin * n + gout]!;
            if (g > cap) continue;
            let rest = 0;
            let nextIn = -1;
            if (i < d - 1) {
              rest = h[b]?.[gout] ?? INF;
              if (rest === INF) continue;
              nextIn = hIn[b]![gout]!;
            }
            pc.stats.transitions++;
            const v = mode === 'sum' ? g + rest : Math.max(g, rest);
            if (v < fa[gin]!) {
              fa[gin] = v;
              ba[gin] = b;
              oa[gin] = gout;
              na[gin] = nextIn;
            }
          }
        }
      }
      fi[a] = fa;
      bi[a] = ba;
      oi[a] = oa;
      ni[a] = na;
    }
    f[i] = fi;
    chB[i] = bi;
    chOut[i] = oi;
    chIn[i] = ni;
  }
  if (!(f[0]![0]![0]! < INF)) return null;

  // reconstruct
  const path: PartitionPath = { starts: [], gin: [], gout: [], stageTimeMs: [], p2pTimeMs: [], sumMs: 0, bottleneckMs: 0 };
  let a = 0;
  let gin = 0;
  for (let i = 0; i < d; i++) {
    const b = chB[i]![a]![gin]!;
    const gout = chOut[i]![a]![gin]!;
    const row = pc.oracleOf[i]!.row(a);
    const n = row.nOut[b - a]!;
    const p = row.times[b - a]![gin * n + gout]!;
    path.starts.push(a);
    path.gin.push(gin);
    path.gout.push(gout);
    path.stageTimeMs.push(p);
    let o = 0;
    const nextIn = chIn[i]![a]![gin]!;
    if (i < d - 1) o = t.p2pMs[t.boundaryClass[i]!][b]![cl.outReps[b]![gout]!]![cl.inReps[b + 1]![nextIn]!]!;
    path.p2pTimeMs.push(o);
    path.sumMs += p + o;
    path.bottleneckMs = Math.max(path.bottleneckMs, p, o);
    a = b + 1;
    gin = nextIn;
  }
  return path;
}
