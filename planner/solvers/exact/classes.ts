// Exact solver, step E1 (docs/planner.md): equivalence classes that shrink the state space without
// changing the optimum.
// - Out-classes of layer u: strategies whose future is identical (same resharding row to layer u+1
//   and same P2P rows if a stage ends at u). Labels of one out-class can be merged.
// - In-groups of layer u: strategies with the same incoming P2P column from layer u-1; a stage
//   starting at u only needs its first strategy up to in-group.
// - Runs: maximal [x, y] of identical layers (same allowed row and costs) joined by identical
//   transitions (resharding and P2P matrices). A stage starting inside a run sees the same labels
//   as one starting at x+1, shifted (run aggregation).
// - Column groups of layer u >= 1: strategies with the same resharding column from the out-classes of
//   layer u-1. Extending labels into any member adds the same resharding time, so the labels are
//   merged (and Pareto-filtered) once per group before the members' own costs are added (labels.ts).
import type { CostTables } from '../../cost-model/tables.ts';

export interface LayerClasses {
  L: number;
  K: number;
  allowedList: number[][];
  outClassOf: Int32Array[];
  outReps: number[][];
  inGroupOf: Int32Array[];
  inMembers: number[][][];
  inReps: number[][];
  /** columnGroups[u]: allowed strategies of layer u grouped by their resharding column from layer u-1 ([] at u = 0). */
  columnGroups: number[][][];
  /** Run containing u: [runStart[u], runEnd[u]]. */
  runStart: Int32Array;
  runEnd: Int32Array;
}

function key(xs: number[]): string {
  return xs.join(',');
}

function partition(K: number, items: number[], keyOf: (k: number) => string): { of: Int32Array; members: number[][] } {
  const ids = new Map<string, number>();
  const members: number[][] = [];
  const of = new Int32Array(K).fill(-1);
  for (const k of items) {
    const kk = keyOf(k);
    let id = ids.get(kk);
    if (id === undefined) {
      id = members.length;
      ids.set(kk, id);
      members.push([]);
    }
    members[id]!.push(k);
    of[k] = id;
  }
  return { of, members };
}

export function layerClasses(t: CostTables): LayerClasses {
  const L = t.layers;
  const K = t.strategies.length;
  const allowedList = t.allowed.map((row) => row.flatMap((ok, k) => (ok ? [k] : [])));
  const outClassOf: Int32Array[] = [];
  const outReps: number[][] = [];
  const inGroupOf: Int32Array[] = [];
  const inMembers: number[][][] = [];
  const inReps: number[][] = [];
  for (let u = 0; u < L; u++) {
    const next = u < L - 1 ? allowedList[u + 1]! : [];
    const out = partition(K, allowedList[u]!, (k) =>
      u === L - 1 ? '' : key([...next.map((l) => t.reshardMs[u]![k]![l]!), ...next.map((l) => t.p2pMs[0][u]![k]![l]!), ...next.map((l) => t.p2pMs[1][u]![k]![l]!)]),
    );
    outClassOf.push(out.of);
    outReps.push(out.members.map((m) => m[0]!));
    const prev = u > 0 ? allowedList[u - 1]! : [];
    const inn = partition(K, allowedList[u]!, (k) =>
      u === 0 ? '' : key([...prev.map((q) => t.p2pMs[0][u - 1]![q]![k]!), ...prev.map((q) => t.p2pMs[1][u - 1]![q]![k]!)]),
    );
    inGroupOf.push(inn.of);
    inMembers.push(inn.members);
    inReps.push(inn.members.map((m) => m[0]!));
  }

  const columnGroups = allowedList.map((list, u) =>
    u === 0 ? [] : partition(K, list, (l) => key(outReps[u - 1]!.map((q) => t.reshardMs[u - 1]![q]![l]!))).members,
  );

  const layerKey = (u: number) =>
    key(t.allowed[u]!.map((ok, k) => (ok ? 1 : 0) + 2 * k)) +
    '|' +
    key(allowedList[u]!.flatMap((k) => {
      const c = t.cost[u]![k]!;
      return [c.timeMs, c.stateBytes, c.activationBytes, c.workspaceBytes];
    }));
  const transKey = (u: number) => {
    const a = allowedList[u]!;
    const b = allowedList[u + 1]!;
    const xs: number[] = [];
    for (const k of a) for (const l of b) xs.push(t.reshardMs[u]![k]![l]!, t.p2pMs[0][u]![k]![l]!, t.p2pMs[1][u]![k]![l]!);
    return key(xs);
  };
  const runStart = new Int32Array(L);
  const runEnd = new Int32Array(L);
  let x = 0;
  while (x < L) {
    const lk = layerKey(x);
    let y = x;
    let tk: string | null = null;
    while (y + 1 < L && layerKey(y + 1) === lk) {
      const k2 = transKey(y);
      if (tk !== null && k2 !== tk) break;
      tk = k2;
      y++;
    }
    for (let u = x; u <= y; u++) {
      runStart[u] = x;
      runEnd[u] = y;
    }
    x = y + 1;
  }
  return { L, K, allowedList, outClassOf, outReps, inGroupOf, inMembers, inReps, columnGroups, runStart, runEnd };
}
