// The ClusterSpec contract: nodes, their devices and the links between them, as plain typed data.
// Users write a ClusterConfig (JSON); `resolveCluster` (configs/cluster-resolve.ts) validates it once
// and returns a ClusterSpec with device types looked up and every field required. Heterogeneous
// clusters (nodes of different device types) are expressible; the planner may reject them.

export const CLUSTER_SCHEMA_VERSION = 1;

/** Datasheet numbers of one accelerator (or a CPU process). Dense, no sparsity. */
export interface DeviceType {
  name: string; // e.g. "A100-80GB-SXM"
  kind: 'gpu' | 'cpu';
  memoryBytes: number;
  /** Peak dense 16-bit tensor throughput; 0 when the device has none (TITAN Xp, CPU). */
  peakTflops16: number;
  peakTflops32: number;
  memoryBandwidthGBps: number;
}

export type IntraNodeLinkKind = 'nvlink' | 'nvswitch' | 'pcie' | 'shared-memory';
export type InterNodeLinkKind = 'infiniband' | 'ethernet' | 'roce';

export interface LinkSpec {
  kind: IntraNodeLinkKind | InterNodeLinkKind;
  /**
   * Intra-node: per device, per direction, GB/s (1e9 bytes/s).
   * Inter-node: per node, per direction, all NICs together, GB/s.
   */
  bandwidthGBps: number;
  latencyUs: number;
}

export interface NodeSpec {
  /** Node index in rank order; ranks are assigned node by node. */
  index: number;
  deviceType: DeviceType;
  devices: number;
  intraNodeLink: LinkSpec;
}

export interface ClusterSpec {
  schemaVersion: typeof CLUSTER_SCHEMA_VERSION;
  name: string;
  nodes: NodeSpec[];
  /** Present iff there is more than one node. */
  interNodeLink: LinkSpec | null;
  /** torch.distributed backend the runtime uses on it. */
  backend: 'nccl' | 'gloo';
  source: string;
}

// ---- The user-facing input ----

export interface DeviceTypeConfig {
  kind?: 'gpu' | 'cpu';
  memoryGiB: number;
  peakTflops16?: number;
  peakTflops32: number;
  memoryBandwidthGBps: number;
}

export interface LinkConfig {
  kind: string;
  bandwidthGBps: number;
  latencyUs?: number;
}

export interface NodeGroupConfig {
  /** How many identical nodes this entry describes (default 1). */
  count?: number;
  /** A built-in device type name (configs/devices.json) or one defined in `deviceTypes`. */
  deviceType: string;
  devices: number;
  intraNodeLink: LinkConfig;
}

export interface ClusterConfig {
  schemaVersion?: number;
  name: string;
  description?: string;
  deviceTypes?: Record<string, DeviceTypeConfig>;
  nodes: NodeGroupConfig[];
  interNodeLink?: LinkConfig;
  backend?: 'nccl' | 'gloo';
}

/** Helpers every layer uses. */
export function totalDevices(c: ClusterSpec): number {
  return c.nodes.reduce((s, n) => s + n.devices, 0);
}

export function isHomogeneous(c: ClusterSpec): boolean {
  const first = c.nodes[0];
  return c.nodes.every((n) => n.deviceType.name === first?.deviceType.name && n.devices === first?.devices);
}

/** Node index of a global rank (ranks are numbered node by node). */
export function nodeOfRank(c: ClusterSpec, rank: number): number {
  let r = rank;
  for (const n of c.nodes) {
    if (r < n.devices) return n.index;
    r -= n.devices;
  }
  throw new RangeError(`rank ${rank} is outside the cluster (${totalDevices(c)} devices)`);
}
