// Cosmetic post-pass (docs/planner.md step S5): among identical layers of one stage the solver may
// alternate strategies that cost exactly the same in any order (e.g. recomputation on 6 of 20
// identical blocks, interleaved by floating-point tie-breaks). Group equal strategies into runs and
// keep the result only if evaluatePlacement says it is feasible and no slower (relative 1e-12), so
// the plan reads as a few runs without changing what was proven.
import type { CostTables, Placement } from '../cost-model/tables.ts';
import { evaluatePlacement, stageRange } from '../cost-model/evaluate.ts';

function sameLayer(t: CostTables, u: number, v: number): boolean {
  const K = t.strategies.length;
  for (let k = 0; k < K; k++) {
    if (t.allowed[u]![k] !== t.allowed[v]![k]) return false;
    if (!t.allowed[u]![k]) continue;
    const a = t.cost[u]![k]!;
    const b = t.cost[v]![k]!;
    if (a !== b && (a.timeMs !== b.timeMs || a.stateBytes !== b.stateBytes || a.activationBytes !== b.activationBytes || a.workspaceBytes !== b.workspaceBytes)) return false;
  }
  return true;
}

function sameTransition(t: CostTables, u: number, v: number): boolean {
  const K = t.strategies.length;
  for (let k = 0; k < K; k++) for (let l = 0; l < K; l++) if (t.reshardMs[u]![k]![l] !== t.reshardMs[v]![k]![l]) return false;
  return true;
}

export function tidyPlacement(t: CostTables, p: Placement): Placement {
  const base = evaluatePlacement(t, p);
  if (!base.feasible) return p;
  const strategy = [...p.strategy];
  for (let i = 0; i < t.stages; i++) {
    const [first, last] = stageRange(p, t.layers, i);
    let x = first;
    while (x <= last) {
      // maximal y: layers x..y identical with identical internal transitions
      let y = x;
      while (y + 1 <= last && sameLayer(t, x, y + 1) && (y === x || sameTransition(t, x, y))) y++;
      if (y - x >= 2) {
        // keep the end strategies at the ends (they meet other layers); group the interior
        const inner = strategy.slice(x + 1, y);
        const order = [strategy[x]!, ...new Set(inner), strategy[y]!];
        const rank = new Map<number, number>();
        order.forEach((k, j) => rank.has(k) || rank.set(k, j));
        inner.sort((a, b) => rank.get(a)! - rank.get(b)!);
        const trial = [...strategy];
        inner.forEach((k, j) => (trial[x + 1 + j] = k));
        const ev = evaluatePlacement(t, { stageStart: p.stageStart, strategy: trial });
        if (ev.feasible && ev.timePerIterationMs <= base.timePerIterationMs * (1 + 1e-12)) strategy.splice(0, strategy.length, ...trial);
      }
      x = y + 1;
    }
  }
  return { stageStart: [...p.stageStart], strategy };
}
