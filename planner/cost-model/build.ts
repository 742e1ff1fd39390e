// buildCostTables: the cost model for one outer-loop configuration (pipeline degree d, micro-batch
// count c, schedule) — UniAP's A, M, R and R' (arXiv 2307.16375, sec. 3.2) as CostTables.
import type { Schedule } from '../plan.ts';
import type { Strategy } from '../strategy.ts';
import type { CostTables, LayerCost } from './tables.ts';
import type { CostModelInput } from './input.ts';
import { tpDegreesFor } from './input.ts';
import { totalDevices } from '../../configs/cluster-spec.ts';
import { ProfileLookup } from '../../profiler/profile-lookup.ts';
import { usableMemoryBytes } from '../../profiler/profile.ts';
import { boundaryActivationBytes, layerOutputBytes, layerShapeKey } from '../../configs/model-derive.ts';
import { contextParallelAllowed, sequenceParallelAllowed, tpDivides } from '../../configs/model-tp.ts';
import { cpCommOf, cpDegree, gradDp, layoutKey, sequenceShardedBetween, sequenceSplit } from '../strategy.ts';
import { layerCost, type DetailedLayerCost, type GroupPlacement, type LayerCostEnv } from './layer-cost.ts';
import { tpGroupNodes, dpGroupNodes, boundaryCrossesNodes, maxNodesOfGroups, nodesSpanned } from './groups.ts';
import { gcd } from '../rank-layout.ts';
import { divisors } from './math.ts';
import { UniapError } from '../../common/errors.ts';

export interface TableConfig {
  stages: number;
  microBatches: number;
  schedule: Schedule;
}

/**
 * K_g: every (dp, tp) with dp * tp = g; data-parallel sharding replicated, ZeRO-1/2 (allowZero), FSDP
 * (allowFsdp) when dp x cp > 1; recomputation none, selective (allowSelectiveRecompute) or full
 * (allowRecompute); sequence parallelism off or on (allowSp) when tp > 1; context parallelism cp (up
 * to maxCp, dividing g / tp; not with sp) with dp = g / (tp cp). Which layers may take which is
 * `allowed` (buildCostTables).
 */
export function strategiesForStage(input: CostModelInput, g: number, microBatchSize?: number): Strategy[] {
  const o = input.options;
  const out: Strategy[] = [];
  const recomputes: { recompute: boolean; selectiveRecompute?: boolean }[] = [{ recompute: false }];
  if (o.allowSelectiveRecompute) recomputes.push({ recompute: false, selectiveRecompute: true });
  if (o.allowRecompute) recomputes.push({ recompute: true });
  for (const tp of tpDegreesFor(input.cluster, g, o)) {
    // cp: divisors of g / tp up to maxCp (1 when context parallelism is off); dp * cp * tp = g
    // Context parallelism is offered where data parallelism cannot take the same ranks (a micro-batch
    // of b rows splits at most b ways: b not divisible by g / tp), and then only its least degree
    // that leaves dp dividing b. Elsewhere a dp x cp layout reads the same profile entry (m / cp
    // samples, layer-cost.ts), holds the same states and activations and has no all-to-alls; and of
    // two cp degrees the smaller moves the same bytes per rank over a smaller group. Only resharding
    // at a change of layout could favour the others (docs/planner.md, S3''). estimate offers all.
    const cands = divisors(g / tp).filter((x) => x > 1 && x <= o.maxCp);
    const cps =
      microBatchSize === undefined || o.cpOnlyWhereDpCannot === false
        ? [1, ...cands]
        : [1, ...(microBatchSize % (g / tp) !== 0 ? cands.filter((x) => microBatchSize % (g / tp / x) === 0).slice(0, 1) : [])];
    for (const cp of cps) {
      const dp = g / tp / cp;
      const shardings: { fsdp: boolean; zero?: 1 | 2 }[] = [{ fsdp: false }];
      if (dp * cp > 1 && o.allowZero) shardings.push({ fsdp: false, zero: 1 }, { fsdp: false, zero: 2 });
      if (dp * cp > 1 && o.allowFsdp) shardings.push({ fsdp: true });
      for (const sp of tp > 1 && o.allowSp && cp === 1 ? [false, true] : [false]) {
        for (const sh of shardings) {
          for (const rc of recomputes) {
            if (cp === 1) out.push({ dp, tp, ...(sp ? { sp } : {}), ...sh, ...rc });
            else {
              out.push({ dp, tp, cp, ...sh, ...rc });
              // ring attention: not with selective recomputation (the executor checkpoints the Ulysses/plain core only)
              if (!rc.selectiveRecompute) out.push({ dp, tp, cp, cpComm: 'p2p', ...sh, ...rc });
            }
          }
        }
      }
    }
  }
  return out;
}

const lookups = new WeakMap<object, ProfileLookup>();
export function lookupFor(input: CostModelInput): ProfileLookup {
  let l = lookups.get(input.profile);
  if (!l) {
    l = new ProfileLookup(input.profile);
    lookups.set(input.profile, l);
  }
  return l;
}

export function checkConfig(input: CostModelInput, config: TableConfig): { n: number; g: number; b: number } {
  const n = totalDevices(input.cluster);
  const d = config.stages;
  const c = config.microBatches;
  if (!Number.isInteger(d) || d < 1 || n % d !== 0) {
    throw new UniapError('DEGREE_MISMATCH', `pipeline degree ${d} does not divide the ${n} devices of ${input.cluster.name}; use a divisor of ${n}`);
  }
  if (d > input.model.layers.length) {
    throw new UniapError('DEGREE_MISMATCH', `pipeline degree ${d} exceeds the ${input.model.layers.length} layers of ${input.model.name}; use at most ${input.model.layers.length} stages`);
  }
  if (!Number.isInteger(c) || c < 1 || input.globalBatch % c !== 0) {
    throw new UniapError('DEGREE_MISMATCH', `${c} micro-batches do not divide the global batch ${input.globalBatch}; use a divisor of ${input.globalBatch}`);
  }
  return { n, g: n / d, b: input.globalBatch / c };
}

export function buildCostTables(input: CostModelInput, config: TableConfig): CostTables {
  const { g, b } = checkConfig(input, config);
  const d = config.stages;
  const c = config.microBatches;
  const { model, cluster } = input;
  const lookup = lookupFor(input);
  const strategies = strategiesForStage(input, g, b);
  const L = model.layers.length;

  const groupCache = new Map<string, GroupPlacement>();
  const groupsOf = (s: Strategy) => {
    const key = layoutKey(s);
    let v = groupCache.get(key);
    if (!v) {
      // The gradient group is dp x cp ranks with stride tp; the cp group cp ranks with stride tp (planner/rank-layout.ts).
      v = { tpNodes: tpGroupNodes(cluster, d, g, s.tp), dpNodes: dpGroupNodes(cluster, d, g, gradDp(s), s.tp), cpNodes: dpGroupNodes(cluster, d, g, cpDegree(s), s.tp) };
      groupCache.set(key, v);
    }
    return v;
  };

  // Identical layers (same shape key) share one row: 80 decoder blocks cost one evaluation.
  // A profile may lack some tp degrees of a shape (imported, partial): those strategies are not
  // allowed, and uncoveredTp says which (the search reports it, planner/search/coverage.ts). A shape
  // the profile lacks altogether is an error (ProfileLookup.layer: the profile is for another model).
  // The optimizer step streams the states at the profile's optimizer bandwidth (layer-cost.ts).
  const env: LayerCostEnv = {
    overlapSlowdown: input.profile.overlapSlowdown,
    optimizerBytesPerMs: (input.profile.optimizerBandwidthGBps ?? 0) * 1e6,
    flashAttention: input.profile.attention === 'flash',
    allToAll: input.profile.allToAll ?? 'native',
  };
  const allowed: boolean[][] = [];
  const cost: LayerCost[][] = [];
  const uncoveredTp: (readonly number[] | undefined)[] = [];
  const rows = new Map<string, { ok: boolean[]; cost: LayerCost[]; uncovered: readonly number[] | undefined }>();
  for (const layer of model.layers) {
    const key = layerShapeKey(layer);
    let row = rows.get(key);
    if (!row) {
      row = { ok: [], cost: [], uncovered: undefined };
      const checkCoverage = lookup.hasShape(key);
      const uncovered = new Set<number>();
      for (const s of strategies) {
        let ok = tpDivides(layer, s.tp) && b % s.dp === 0 && (!s.sp || sequenceParallelAllowed(layer, s.tp)) && contextParallelAllowed(layer, s.tp, cpDegree(s), cpCommOf(s));
        if (ok && checkCoverage && !lookup.coversTp(key, s.tp)) {
          uncovered.add(s.tp);
          ok = false;
        }
        row.ok.push(ok);
        row.cost.push(ok ? layerCost(layer, s, b, c, lookup, groupsOf(s), env) : NOT_ALLOWED);
      }
      if (uncovered.size > 0) row.uncovered = [...uncovered].sort((x, y) => x - y);
      rows.set(key, row);
    }
    allowed.push([...row.ok]);
    cost.push([...row.cost]);
    uncoveredTp.push(row.uncovered);
  }
  chargeTiedTableSync(input, cost, d, g, c, lookup);

  // R[u][k][l]: activations between layers are split over dp (batch) and replicated over tp. Between
  // dp degrees a and b (any two divisors of g) the rows stay inside blocks of g/h ranks, h = gcd(a, b),
  // each block owning 1/h of the micro-batch (derivation: planner/rank-layout.ts shardGatherGroups):
  //   R = AG(bytes/h, a/h ranks, stride g/a) forward + AG(bytes/h, b/h ranks, stride g/b) backward,
  // where AG(x, n) is the profile's all-gather of x gathered bytes over n ranks (0 for n = 1). When one
  // degree divides the other, one of the two groups is a single rank: the forward all-gather when dp
  // shrinks, the backward all-gather of the gradient when it grows.
  const boundaryBytes = Array.from({ length: L }, (_, u) => (u < L - 1 ? boundaryActivationBytes(model, u, b) : 0));
  const gatherCache = new Map<string, number>();
  const shardGather = (bytes: number, dp: number, other: number): number => {
    const h = gcd(dp, other);
    const size = dp / h;
    if (size <= 1) return 0;
    const key = `${bytes}|${dp}|${other}`;
    let v = gatherCache.get(key);
    if (v === undefined) {
      const nodes = maxNodesOfGroups(cluster, d, g, size, g / dp);
      v = lookup.collectiveMs('all-gather', bytes / h, size, nodes);
      gatherCache.set(key, v);
    }
    return v;
  };
  const reshard = (bytes: number, from: Strategy, to: Strategy): number =>
    from.dp === to.dp ? 0 : shardGather(bytes, from.dp, to.dp) + shardGather(bytes, to.dp, from.dp);
  // Sequence parallelism at a boundary (Korthikanti et al. 2022, sec. 4.2.2): two sp layers on the same
  // dp x tp groups pass the sequence-split hidden states as they are; otherwise the sp side gathers the
  // sequence over its tp group, an all-gather of its dp shard of the hidden states (layer u's output):
  // forward after an sp layer, backward (the gradient) before one. The executor gathers before every
  // P2P too (runtime/executor/uniap_exec/pipeline.py), so both sides of a stage boundary pay it.
  const seqGather = (hiddenBytes: number, s: Strategy): number => {
    const kind = sequenceSplit(s);
    if (kind === 'sp') return lookup.collectiveMs('all-gather', hiddenBytes / s.dp, s.tp, groupsOf(s).tpNodes);
    if (kind === 'cp') return lookup.collectiveMs('all-gather', hiddenBytes / s.dp, cpDegree(s), groupsOf(s).cpNodes);
    return 0;
  };
  const seqBoundary = (hiddenBytes: number, from: Strategy, to: Strategy): number =>
    sequenceShardedBetween(from, to) ? 0 : seqGather(hiddenBytes, from) + seqGather(hiddenBytes, to);
  // R'[cls][u][k][l]: one P2P of the boundary activations forward and one of their gradient backward
  // per micro-batch (Narayanan et al. 2021, arXiv 2104.04473, sec. 2.2 and 4.1). Each device pair moves the larger of
  // the two sides' shards; pairs transfer in parallel.
  const p2p = (bytes: number, from: Strategy, to: Strategy, nodes: number): number =>
    2 * lookup.collectiveMs('p2p', bytes / Math.min(from.dp, to.dp), 2, nodes);

  // Layers with equal boundary bytes share one K x K matrix of each kind (identical blocks).
  // Only the boundary kinds this configuration has are looked up: a single stage has no P2P at all
  // (1 device, or d = 1) and a profile need not carry a link it never uses; an unused kind is zeros.
  const boundaryClass: (0 | 1)[] = [];
  for (let i = 0; i < d - 1; i++) boundaryClass.push(boundaryCrossesNodes(cluster, g, i) ? 1 : 0);
  const needIntra = boundaryClass.includes(0);
  const needInter = boundaryClass.includes(1);
  const K = strategies.length;
  const zeros = Array.from({ length: K }, () => new Array<number>(K).fill(0));
  const anySequenceSplit = strategies.some((s) => sequenceSplit(s) !== undefined);
  const matrices = new Map<string, { R: number[][]; P0: number[][]; P1: number[][] }>();
  const matricesFor = (bytes: number, hiddenBytes: number) => {
    const key = `${bytes}|${anySequenceSplit ? hiddenBytes : 0}`;
    let v = matrices.get(key);
    if (!v) {
      const R: number[][] = [];
      const P0: number[][] = [];
      const P1: number[][] = [];
      const sp = (from: Strategy, to: Strategy, acrossStages: boolean): number =>
        !anySequenceSplit || bytes === 0 ? 0 : acrossStages ? seqGather(hiddenBytes, from) + seqGather(hiddenBytes, to) : seqBoundary(hiddenBytes, from, to);
      for (let k = 0; k < K; k++) {
        const from = strategies[k]!;
        R.push(strategies.map((to) => (bytes === 0 ? 0 : reshard(bytes, from, to) + sp(from, to, false))));
        P0.push(needIntra && bytes > 0 ? strategies.map((to) => p2p(bytes, from, to, 1) + sp(from, to, true)) : zeros[k]!);
        P1.push(needInter && bytes > 0 ? strategies.map((to) => p2p(bytes, from, to, 2) + sp(from, to, true)) : zeros[k]!);
      }
      v = { R, P0, P1 };
      matrices.set(key, v);
    }
    return v;
  };
  const reshardMs: number[][][] = [];
  const p2pIntra: number[][][] = [];
  const p2pInter: number[][][] = [];
  for (let u = 0; u < L; u++) {
    // The last layer has no boundary: 0 bytes, all zeros.
    const m = matricesFor(boundaryBytes[u]!, u < L - 1 ? layerOutputBytes(model.layers[u]!, b) : 0);
    reshardMs.push(m.R);
    p2pIntra.push(m.P0);
    p2pInter.push(m.P1);
  }

  // In-flight micro-batches at a stage's memory peak: GPipe keeps all c (Huang et al. 2019);
  // 1F1B stage i keeps min(d - i, c) (Narayanan et al. 2021, PipeDream-Flush).
  const inFlight = Array.from({ length: d }, (_, i) => (config.schedule === 'gpipe' ? c : Math.min(d - i, c)));
  const memoryBudgetBytes = input.options.memoryBudgetBytes ?? usableMemoryBytes(input.profile);

  return {
    schedule: config.schedule,
    stages: d,
    microBatches: c,
    microBatchSize: b,
    devicesPerStage: g,
    layers: L,
    strategies,
    allowed,
    ...(uncoveredTp.some((x) => x !== undefined) ? { uncoveredTp } : {}),
    cost,
    reshardMs,
    p2pMs: [p2pIntra, p2pInter],
    boundaryClass,
    inFlight,
    memoryBudgetBytes,
  };
}

const NOT_ALLOWED: DetailedLayerCost = Object.freeze({
  timeMs: Number.POSITIVE_INFINITY,
  breakdown: { computeMs: 0, tpCommMs: 0, fsdpExposedMs: 0, gradSyncExposedMs: 0, overlappedCommMs: 0 },
  stateBytes: Number.POSITIVE_INFINITY,
  activationBytes: Number.POSITIVE_INFINITY,
  workspaceBytes: Number.POSITIVE_INFINITY,
  state: { weightBytes: 0, gradientBytes: 0, optimizerBytes: 0, totalBytes: 0 },
  forwardMs: 0,
  backwardMs: 0,
}) as DetailedLayerCost;

/**
 * Tied vocabulary tables (GPT's LM head, T5's decoder embedding and head) keep copies whose gradients
 * the executor sums once per step: one all-reduce of the full vocab x hidden table in fp32 over the
 * ranks of the stages holding a copy (runtime/executor/uniap_exec/tie.py), after the backward, not
 * overlapped. Megatron-LM does the same for the embedding and output layer on the first and last
 * stage. Charged on the last tied layer, 1/c per micro-batch; the group is the one stage (d = 1) or
 * the first and last stage (d > 1, where the table owner and the head sit).
 */
function chargeTiedTableSync(input: CostModelInput, cost: LayerCost[][], d: number, g: number, c: number, lookup: ProfileLookup): void {
  const tied = input.model.layers.filter((l) => l.tiedEmbedding && (l.type === 'head' || l.type === 'embedding'));
  const last = tied[tied.length - 1];
  if (!last) return;
  const ranks = Array.from({ length: g }, (_, j) => j);
  if (d > 1) for (let j = 0; j < g; j++) ranks.push((d - 1) * g + j);
  const bytes = 4 * last.vocabSize * last.hiddenSize;
  const perMicroBatchMs = lookup.collectiveMs('all-reduce', bytes, ranks.length, nodesSpanned(input.cluster, ranks)) / c;
  cost[last.index] = cost[last.index]!.map((lc) =>
    lc === NOT_ALLOWED
      ? lc
      : {
          ...lc,
          timeMs: lc.timeMs + perMicroBatchMs,
          breakdown: { ...lc.breakdown, gradSyncExposedMs: lc.breakdown.gradSyncExposedMs + perMicroBatchMs },
        },
  );
}
