// The UniAP MIQP (arXiv 2307.16375, sec. 3.3) linearized exactly in the boundary form
// (derived in docs/planner.md section 4, steps M1-M11), written once as a solver-neutral LpModel.
// Times in ms, memory in GiB (keeps coefficients near 1 for the MILP tolerances).
import type { CostTables, Placement } from '../cost-model/tables.ts';
import { evaluatePlacement, stageRange } from '../cost-model/evaluate.ts';
import { Expr, LpBuilder, type LpModel } from './lp-model.ts';

const GiB = 1024 ** 3;

export interface MilpModel {
  lp: LpModel;
  tables: CostTables;
  /** Variable ids: E[u][i] (i = 1..d-1; null where i is 0 or d), S[u][k] (-1 if not allowed). */
  E: number[][];
  S: number[][];
  /** Values of every variable for a placement (a MIP start). */
  encode(p: Placement): Float64Array;
  /** The placement a solution describes, and how far its binaries are from 0/1. */
  decode(x: (id: number) => number): { placement: Placement; fractionality: number };
}

export function buildMilp(t: CostTables): MilpModel {
  const L = t.layers;
  const d = t.stages;
  const K = t.strategies.length;
  const c = t.microBatches;
  const B = new LpBuilder();
  const lo = (u: number) => Math.max(0, u - (L - d)); // M1: earliest stage of layer u (later stages non-empty)
  const hi = (u: number) => Math.min(u, d - 1); // M1: latest stage (earlier stages non-empty)
  const possible = (u: number, i: number) => i >= lo(u) && i <= hi(u);

  // M1. E[u][i] = 1 iff stage(u) >= i. E[u][0] = 1 and E[u][d] = 0 are constants; pairs decided by
  //     the layer counts are fixed variables (lb = ub).
  const E: number[][] = [];
  for (let u = 0; u < L; u++) {
    const row: number[] = [-1];
    for (let i = 1; i < d; i++) {
      const fixed = i <= lo(u) ? 1 : i > hi(u) ? 0 : null;
      row.push(B.variable(`E_${u}_${i}`, fixed ?? 0, fixed ?? 1, 'binary'));
    }
    E.push(row);
  }
  /** e += coef * E[u][i], with E[u][0] = 1 and E[u][d] = 0. */
  const addE = (e: Expr, u: number, i: number, coef: number) => {
    if (i <= 0) e.add(null, coef);
    else if (i < d) e.add(E[u]![i]!, coef);
  };
  // M2. Monotone in i and in u, and at most one step per layer (stages contiguous and non-empty).
  for (let u = 0; u < L; u++) {
    for (let i = 1; i + 1 < d; i++) B.row(`mono_i_${u}_${i}`, new Expr().add(E[u]![i]!, 1).add(E[u]![i + 1]!, -1), 0, Infinity);
    if (u + 1 < L) {
      for (let i = 1; i < d; i++) B.row(`mono_u_${u}_${i}`, new Expr().add(E[u + 1]![i]!, 1).add(E[u]![i]!, -1), 0, Infinity);
      for (let i = 0; i + 1 < d; i++) {
        const e = new Expr();
        addE(e, u, i, 1);
        addE(e, u + 1, i + 1, -1);
        B.row(`step_${u}_${i}`, e, 0, Infinity);
      }
    }
  }
  // M3. P[u][i] = E[u][i] - E[u][i+1]; crossing X[u][i] = E[u+1][i+1] - E[u][i+1];
  //     both-in-stage Q[u][i] = P[u][i] - X[u][i] = E[u][i] - E[u+1][i+1].
  const P = (u: number, i: number) => {
    const e = new Expr();
    addE(e, u, i, 1);
    addE(e, u, i + 1, -1);
    return e;
  };
  const X = (u: number, i: number) => {
    const e = new Expr();
    addE(e, u + 1, i + 1, 1);
    addE(e, u, i + 1, -1);
    return e;
  };
  const Q = (u: number, i: number) => {
    const e = new Expr();
    addE(e, u, i, 1);
    addE(e, u + 1, i + 1, -1);
    return e;
  };

  // M4. S[u][k] binary for allowed k; one strategy per layer.
  const S: number[][] = [];
  for (let u = 0; u < L; u++) {
    const row = t.allowed[u]!.map((ok, k) => (ok ? B.variable(`S_${u}_${k}`, 0, 1, 'binary') : -1));
    S.push(row);
    const e = new Expr();
    row.forEach((v) => v >= 0 && e.add(v, 1));
    B.row(`one_${u}`, e, 1, 1);
  }
  // M5. Z[u][i][k] = P[u][i] * S[u][k] as a flow with both margins (exact for binary margins).
  const Z: Map<string, number> = new Map();
  const z = (u: number, i: number, k: number) => Z.get(`${u}_${i}_${k}`);
  for (let u = 0; u < L; u++) {
    for (let i = lo(u); i <= hi(u); i++) {
      const e = new Expr();
      for (let k = 0; k < K; k++) {
        if (S[u]![k]! < 0) continue;
        const id = B.variable(`Z_${u}_${i}_${k}`, 0, Infinity);
        Z.set(`${u}_${i}_${k}`, id);
        e.add(id, 1);
      }
      B.row(`zp_${u}_${i}`, e.addExpr(P(u, i), -1), 0, 0);
    }
    for (let k = 0; k < K; k++) {
      if (S[u]![k]! < 0) continue;
      const e = new Expr().add(S[u]![k]!, -1);
      for (let i = lo(u); i <= hi(u); i++) e.add(z(u, i, k)!, 1);
      B.row(`zs_${u}_${k}`, e, 0, 0);
    }
  }
  // M6. Y[u][k][l] = S[u][k] * S[u+1][l] with the chain marginals.
  const Y: number[][][] = [];
  for (let u = 0; u + 1 < L; u++) {
    const m: number[][] = [];
    for (let k = 0; k < K; k++) m.push(t.allowed[u + 1]!.map((ok, l) => (ok && S[u]![k]! >= 0 ? B.variable(`Y_${u}_${k}_${l}`, 0, Infinity) : -1)));
    Y.push(m);
    for (let k = 0; k < K; k++) {
      if (S[u]![k]! < 0) continue;
      const e = new Expr().add(S[u]![k]!, -1);
      m[k]!.forEach((v) => v >= 0 && e.add(v, 1));
      B.row(`yk_${u}_${k}`, e, 0, 0);
    }
    for (let l = 0; l < K; l++) {
      if (S[u + 1]![l]! < 0) continue;
      const e = new Expr().add(S[u + 1]![l]!, -1);
      for (let k = 0; k < K; k++) if (m[k]![l]! >= 0) e.add(m[k]![l]!, 1);
      B.row(`yl_${u}_${l}`, e, 0, 0);
    }
  }
  /** sum_{k,l} M[k][l] * Y[u][k][l] and its largest coefficient. */
  const pairCost = (u: number, M: number[][]): { e: Expr; max: number } => {
    const e = new Expr();
    let max = 0;
    for (let k = 0; k < K; k++) {
      for (let l = 0; l < K; l++) {
        const v = Y[u]![k]![l]!;
        if (v < 0) continue;
        e.add(v, M[k]![l]!);
        max = Math.max(max, M[k]![l]!);
      }
    }
    return { e, max };
  };

  // M7. Stage time p_i >= sum A Z + in-stage resharding, w[u][i] >= rho_u - M_u (1 - Q[u][i]).
  const p: number[] = [];
  const o: number[] = [];
  const W: number[] = [];
  const wId = new Map<string, number>();
  const T = B.variable('T', 0, Infinity);
  for (let i = 0; i < d; i++) {
    p.push(B.variable(`p_${i}`, 0, Infinity));
    const e = new Expr().add(p[i]!, 1);
    for (let u = 0; u < L; u++) {
      if (!possible(u, i)) continue;
      for (let k = 0; k < K; k++) {
        const id = z(u, i, k);
        if (id !== undefined) e.add(id, -t.cost[u]![k]!.timeMs);
      }
      if (u + 1 < L && possible(u + 1, i)) {
        const { e: rho, max } = pairCost(u, t.reshardMs[u]!);
        if (max > 0) {
          const w = B.variable(`w_${u}_${i}`, 0, Infinity);
          wId.set(`${u}_${i}`, w);
          e.add(w, -1);
          // w - rho - M*Q >= -M
          B.row(`rs_${u}_${i}`, new Expr().add(w, 1).addExpr(rho, -1).addExpr(Q(u, i), -max), -max, Infinity);
        }
      }
    }
    B.row(`time_${i}`, e, 0, Infinity);
  }
  // M8. P2P out of stage i: o_i >= rho'_u - M'_u (1 - X[u][i]) for every edge the boundary can cut.
  for (let i = 0; i + 1 < d; i++) {
    o.push(B.variable(`o_${i}`, 0, Infinity));
    const R = t.p2pMs[t.boundaryClass[i]!];
    for (let u = 0; u + 1 < L; u++) {
      if (!possible(u, i) || !possible(u + 1, i + 1)) continue;
      const { e: rho, max } = pairCost(u, R[u]!);
      if (max === 0) continue;
      B.row(`p2p_${u}_${i}`, new Expr().add(o[i]!, 1).addExpr(rho, -1).addExpr(X(u, i), -max), -max, Infinity);
    }
  }
  // M9. Memory per stage (GiB): sum (state + inFlight_i * act) Z + W_i <= budget, W_i >= ws Z per layer.
  for (let i = 0; i < d; i++) {
    W.push(B.variable(`W_${i}`, 0, Infinity));
    const e = new Expr().add(W[i]!, 1);
    for (let u = 0; u < L; u++) {
      if (!possible(u, i)) continue;
      const ws = new Expr().add(W[i]!, 1);
      for (let k = 0; k < K; k++) {
        const id = z(u, i, k);
        if (id === undefined) continue;
        const cst = t.cost[u]![k]!;
        e.add(id, (cst.stateBytes + t.inFlight[i]! * cst.activationBytes) / GiB);
        ws.add(id, -cst.workspaceBytes / GiB);
      }
      B.row(`ws_${u}_${i}`, ws, 0, Infinity);
    }
    B.row(`mem_${i}`, e, -Infinity, t.memoryBudgetBytes / GiB);
  }
  // M10. Bottleneck T >= p_i, T >= o_i.
  for (let i = 0; i < d; i++) B.row(`tp_${i}`, new Expr().add(T, 1).add(p[i]!, -1), 0, Infinity);
  for (let i = 0; i + 1 < d; i++) B.row(`to_${i}`, new Expr().add(T, 1).add(o[i]!, -1), 0, Infinity);
  // M11. Objective: sum p + sum o + (c - 1) T.
  const obj = new Expr();
  p.forEach((v) => obj.add(v, 1));
  o.forEach((v) => obj.add(v, 1));
  obj.add(T, c - 1);
  B.objective(obj);

  const lp = B.model;
  return {
    lp,
    tables: t,
    E,
    S,
    encode(pl: Placement): Float64Array {
      const x = new Float64Array(lp.vars.length);
      const ev = evaluatePlacement(t, pl);
      const stageOf = new Array<number>(L);
      for (let i = 0; i < d; i++) {
        const [a, b] = stageRange(pl, L, i);
        for (let u = a; u <= b; u++) stageOf[u] = i;
      }
      for (let u = 0; u < L; u++) {
        for (let i = 1; i < d; i++) x[E[u]![i]!] = stageOf[u]! >= i ? 1 : 0;
        x[S[u]![pl.strategy[u]!]!] = 1;
        const id = z(u, stageOf[u]!, pl.strategy[u]!);
        if (id !== undefined) x[id] = 1;
        if (u + 1 < L) {
          x[Y[u]![pl.strategy[u]!]![pl.strategy[u + 1]!]!] = 1;
          if (stageOf[u] === stageOf[u + 1]) {
            const w = wId.get(`${u}_${stageOf[u]}`);
            if (w !== undefined) x[w] = t.reshardMs[u]![pl.strategy[u]!]![pl.strategy[u + 1]!]!;
          }
        }
      }
      const ws = new Array<number>(d).fill(0);
      for (let u = 0; u < L; u++) ws[stageOf[u]!] = Math.max(ws[stageOf[u]!]!, t.cost[u]![pl.strategy[u]!]!.workspaceBytes / GiB);
      for (let i = 0; i < d; i++) {
        x[p[i]!] = ev.stageTimeMs[i]!;
        x[W[i]!] = ws[i]!;
        if (i + 1 < d) x[o[i]!] = ev.p2pTimeMs[i]!;
      }
      x[T] = Math.max(...ev.stageTimeMs, ...ev.p2pTimeMs);
      return x;
    },
    decode(value: (id: number) => number) {
      let fractionality = 0;
      const bin = (id: number) => {
        const v = value(id);
        fractionality = Math.max(fractionality, Math.min(Math.abs(v), Math.abs(1 - v)));
        return v;
      };
      const stageOf: number[] = [];
      const strategy: number[] = [];
      for (let u = 0; u < L; u++) {
        let s = 0;
        for (let i = 1; i < d; i++) s += bin(E[u]![i]!);
        stageOf.push(Math.round(s));
        let bestK = -1;
        let bestV = -Infinity;
        S[u]!.forEach((id, k) => {
          if (id < 0) return;
          const v = bin(id);
          if (v > bestV) {
            bestV = v;
            bestK = k;
          }
        });
        strategy.push(bestK);
      }
      const stageStart: number[] = [];
      for (let i = 0; i < d; i++) {
        const u = stageOf.indexOf(i);
        stageStart.push(u < 0 ? -1 : u);
      }
      return { placement: { stageStart, strategy }, fractionality };
    },
  };
}
