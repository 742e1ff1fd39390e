// Where the process groups of a stage land on the cluster. Stage i owns global ranks
// [i*g, (i+1)*g); inside a stage ranks are tp-innermost (planner/rank-layout.ts), so a TP group is tp
// consecutive ranks and a DP group is dp ranks with stride tp. A group spanning several nodes pays
// the inter-node link (UniAP sec. 3: TP groups inside a node where they fit).
import type { ClusterSpec } from '../../configs/cluster-spec.ts';
import { nodeOfRank, totalDevices } from '../../configs/cluster-spec.ts';
import { strideGroups } from '../rank-layout.ts';

// Node of every rank, computed once per cluster (nodeOfRank walks the node list: O(nodes) a call,
// too slow for the group scans of 1000-node clusters).
const nodeTables = new WeakMap<ClusterSpec, Int32Array>();
function nodeTable(cluster: ClusterSpec): Int32Array {
  let t = nodeTables.get(cluster);
  if (!t) {
    t = new Int32Array(totalDevices(cluster));
    let r = 0;
    for (const n of cluster.nodes) for (let j = 0; j < n.devices; j++) t[r++] = n.index;
    nodeTables.set(cluster, t);
  }
  return t;
}

/** Number of distinct nodes holding `ranks`. */
export function nodesSpanned(cluster: ClusterSpec, ranks: number[]): number {
  const t = nodeTable(cluster);
  const seen = new Set<number>();
  for (const r of ranks) seen.add(r >= 0 && r < t.length ? t[r]! : nodeOfRank(cluster, r)); // out of range: nodeOfRank names it
  return seen.size;
}

/**
 * Worst case over all stages and all groups of one kind: the most nodes any group spans.
 * A group is `size` ranks with stride `stride`, starting at every offset that forms such groups
 * inside a stage of `g` ranks (blocks of size*stride consecutive ranks, `stride` groups per block).
 */
export function maxNodesOfGroups(cluster: ClusterSpec, stages: number, g: number, size: number, stride: number): number {
  if (size <= 1) return 1;
  let worst = 1;
  for (let s = 0; s < stages; s++) {
    for (const ranks of strideGroups(s * g, g, size, stride)) worst = Math.max(worst, nodesSpanned(cluster, ranks));
  }
  return worst;
}

/** Nodes spanned by the TP groups of a (dp, tp) strategy on stages of g devices. */
export function tpGroupNodes(cluster: ClusterSpec, stages: number, g: number, tp: number): number {
  return maxNodesOfGroups(cluster, stages, g, tp, 1);
}

/** Nodes spanned by the DP groups (stride tp). */
export function dpGroupNodes(cluster: ClusterSpec, stages: number, g: number, dp: number, tp: number): number {
  return maxNodesOfGroups(cluster, stages, g, dp, tp);
}

/** Does the boundary between stage i and i+1 cross nodes (any rank j of stage i talks to rank j of stage i+1)? */
export function boundaryCrossesNodes(cluster: ClusterSpec, g: number, i: number): boolean {
  const t = nodeTable(cluster);
  for (let j = 0; j < g; j++) {
    if (t[i * g + j] !== t[(i + 1) * g + j]) return true;
  }
  return false;
}
