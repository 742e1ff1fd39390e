// Time per iteration and memory per stage of one placement under one set of CostTables: the single
// definition every solver is checked against (and `estimate` reports).
//
// Objective (UniAP, arXiv 2307.16375, eq. for GPipe; synchronous 1F1B has the same time, Narayanan
// et al. 2021, "Efficient Large-Scale Language Model Training on GPU Clusters Using Megatron-LM"):
//   TPI = sum_i p_i + sum_i o_i + (c - 1) * max(max_i p_i, max_i o_i)
// For d uniform stages with p_i = t_f + t_b and no P2P this is (c + d - 1)(t_f + t_b).
import type { CostTables, Placement, PlacementEvaluation } from './tables.ts';

const GiB = 1024 ** 3;

export function stageRange(p: Placement, layers: number, i: number): [number, number] {
  const first = p.stageStart[i]!;
  const next = i + 1 < p.stageStart.length ? p.stageStart[i + 1]! : layers;
  return [first, next - 1];
}

export function evaluatePlacement(t: CostTables, p: Placement): PlacementEvaluation {
  const d = t.stages;
  const violations: string[] = [];
  if (p.stageStart.length !== d) throw new RangeError(`placement has ${p.stageStart.length} stages, tables ${d}`);
  if (p.strategy.length !== t.layers) throw new RangeError(`placement has ${p.strategy.length} layers, tables ${t.layers}`);
  if (p.stageStart[0] !== 0) violations.push('stage 0 must start at layer 0');
  const stageTimeMs: number[] = [];
  const p2pTimeMs: number[] = [];
  const memoryPerStageBytes: number[] = [];
  for (let i = 0; i < d; i++) {
    const [first, last] = stageRange(p, t.layers, i);
    if (last < first) {
      violations.push(`stage ${i} is empty`);
      stageTimeMs.push(0);
      p2pTimeMs.push(0);
      memoryPerStageBytes.push(0);
      continue;
    }
    let time = 0;
    let state = 0;
    let act = 0;
    let ws = 0;
    for (let u = first; u <= last; u++) {
      const k = p.strategy[u]!;
      if (!t.allowed[u]?.[k]) {
        const st = t.strategies[k];
        const what = st ? `dp${st.dp} tp${st.tp}` : `strategy ${k}`;
        violations.push(
          st && t.uncoveredTp?.[u]?.includes(st.tp)
            ? `layer ${u} uses ${what}, but the profile has no entry for its shape at tp ${st.tp}; profile that degree (uniap profile) or use a tp the profile covers`
            : `layer ${u} uses ${what}, which is not allowed for it`,
        );
        continue;
      }
      const c = t.cost[u]![k]!;
      time += c.timeMs;
      state += c.stateBytes;
      act += c.activationBytes;
      ws = Math.max(ws, c.workspaceBytes);
      if (u < last) time += t.reshardMs[u]![k]![p.strategy[u + 1]!]!;
    }
    const mem = state + t.inFlight[i]! * act + ws;
    stageTimeMs.push(time);
    memoryPerStageBytes.push(mem);
    if (mem > t.memoryBudgetBytes) {
      violations.push(
        `memory of stage ${i}: ${(mem / GiB).toFixed(2)} GiB > ${(t.memoryBudgetBytes / GiB).toFixed(2)} GiB usable per device`,
      );
    }
    if (i < d - 1) {
      const cls = t.boundaryClass[i]!;
      const u = last;
      p2pTimeMs.push(t.p2pMs[cls][u]![p.strategy[u]!]![p.strategy[u + 1]!]!);
    } else {
      p2pTimeMs.push(0);
    }
  }
  const sumP = stageTimeMs.reduce((a, b) => a + b, 0);
  const sumO = p2pTimeMs.reduce((a, b) => a + b, 0);
  const bottleneck = Math.max(...stageTimeMs, ...p2pTimeMs);
  const timePerIterationMs = sumP + sumO + (t.microBatches - 1) * bottleneck;
  return { stageTimeMs, p2pTimeMs, timePerIterationMs, memoryPerStageBytes, feasible: violations.length === 0, violations };
}
