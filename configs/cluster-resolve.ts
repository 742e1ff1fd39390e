// resolveCluster: validates a user's ClusterConfig (JSON) once and returns a fully required
// ClusterSpec: device types looked up (the file's own `deviceTypes` first, then the built-in catalog
// configs/devices.json), node groups expanded into one NodeSpec per node, link latencies and the
// torch.distributed backend defaulted. Every mistake is one ConfigError line: file, JSON path, fix.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  CLUSTER_SCHEMA_VERSION,
  type ClusterSpec,
  type DeviceType,
  type InterNodeLinkKind,
  type IntraNodeLinkKind,
  type LinkSpec,
  type NodeSpec,
} from './cluster-spec.ts';
import { JsonReader } from './validate.ts';

export const INTRA_NODE_LINK_KINDS: readonly IntraNodeLinkKind[] = ['nvlink', 'nvswitch', 'pcie', 'shared-memory'];
export const INTER_NODE_LINK_KINDS: readonly InterNodeLinkKind[] = ['infiniband', 'ethernet', 'roce'];

/**
 * Per-step latency (µs) of a link kind when the file gives none. NCCL's own tuning model
 * (NVIDIA/nccl src/graph/tuning.cc, `hwLat`, ring, LL128 protocol) charges 1.9 µs per step over
 * NVLink, 2.5 µs over PCIe and 4.0 µs over the network. Shared memory (Gloo between local
 * processes) and TCP over Ethernet are estimates: a loopback or LAN socket round trip through
 * the kernel is tens of µs.
 */
export const DEFAULT_LINK_LATENCY_US: Record<IntraNodeLinkKind | InterNodeLinkKind, number> = {
  nvlink: 1.9,
  nvswitch: 1.9,
  pcie: 2.5,
  'shared-memory': 20,
  infiniband: 4.0,
  roce: 4.0,
  ethernet: 25,
};

const GIB = 2 ** 30;
const DEVICES_FILE = 'configs/devices.json';
let catalog: ReadonlyMap<string, DeviceType> | undefined;

/** The built-in device types of configs/devices.json, validated on first use. */
export function builtinDeviceTypes(): ReadonlyMap<string, DeviceType> {
  if (!catalog) {
    const text = readFileSync(fileURLToPath(new URL('./devices.json', import.meta.url)), 'utf8');
    const root = JsonReader.root(DEVICES_FILE, JSON.parse(text) as unknown);
    root.optString('description');
    const map = new Map<string, DeviceType>();
    for (const [name, r] of root.child('deviceTypes').asEntries()) map.set(name, readDeviceType(name, r, true));
    root.done();
    catalog = map;
  }
  return catalog;
}

/**
 * Validate `config` (parsed JSON of a ClusterConfig) and resolve it. `source` names the file (or
 * preset) in error messages and is recorded in the spec.
 */
export function resolveCluster(config: unknown, source: string): ClusterSpec {
  const r = JsonReader.root(source, config);
  const version = r.optNumber('schemaVersion', { integer: true });
  if (version !== undefined && version !== CLUSTER_SCHEMA_VERSION) {
    r.fail(
      `cluster schema version ${version} is not supported`,
      `set "schemaVersion" to ${CLUSTER_SCHEMA_VERSION} and check the fields against configs/cluster-spec.ts`,
      '$.schemaVersion',
    );
  }
  const name = r.string('name');
  if (name.trim() === '') r.fail('the name is empty', 'give the cluster a name', '$.name');
  r.optString('description');

  const own = new Map<string, DeviceType>();
  const typesReader = r.optChild('deviceTypes');
  if (typesReader) for (const [key, t] of typesReader.asEntries()) own.set(key, readDeviceType(key, t, false));
  const builtin = builtinDeviceTypes();

  const nodes: NodeSpec[] = [];
  for (const g of r.array('nodes', { minLength: 1 })) {
    const count = g.optNumber('count', { integer: true, min: 1 }) ?? 1;
    const typeName = g.string('deviceType');
    // A file's own device types shadow built-in ones of the same name (local-cpu relies on this).
    const deviceType =
      own.get(typeName) ??
      builtin.get(typeName) ??
      g.fail(
        `unknown device type "${typeName}"`,
        `use one of: ${[...new Set([...own.keys(), ...builtin.keys()])].join(', ')}; or define it under "deviceTypes"`,
        `${g.path}.deviceType`,
      );
    const devices = g.number('devices', { integer: true, min: 1 });
    const intraNodeLink = readLink(g.child('intraNodeLink'), INTRA_NODE_LINK_KINDS);
    g.done();
    for (let i = 0; i < count; i++) nodes.push({ index: nodes.length, deviceType, devices, intraNodeLink });
  }

  const interReader = r.optChild('interNodeLink');
  let interNodeLink: LinkSpec | null = null;
  if (nodes.length > 1 && !interReader) {
    r.fail(
      `missing field "interNodeLink" for a cluster of ${nodes.length} nodes`,
      'add "interNodeLink": { "kind": "infiniband", "bandwidthGBps": <per node, per direction> }',
      '$.interNodeLink',
    );
  }
  if (interReader) {
    if (nodes.length === 1) {
      interReader.fail('a single-node cluster has no inter-node link', 'remove "interNodeLink" or add nodes (nodes[].count)');
    }
    interNodeLink = readLink(interReader, INTER_NODE_LINK_KINDS);
  }

  const kinds = new Set(nodes.map((n) => n.deviceType.kind));
  const backendGiven = r.optString('backend', { oneOf: ['nccl', 'gloo'] }) as 'nccl' | 'gloo' | undefined;
  if (kinds.size > 1) {
    r.fail('the cluster mixes GPU and CPU device types', 'use GPU nodes only or CPU nodes only', '$.nodes');
  }
  const kind = nodes[0]?.deviceType.kind ?? 'gpu';
  if (backendGiven === 'nccl' && kind === 'cpu') {
    r.fail('backend "nccl" needs GPUs but the devices are CPUs', 'use "backend": "gloo" or leave it out', '$.backend');
  }
  r.done();

  return {
    schemaVersion: CLUSTER_SCHEMA_VERSION,
    name,
    nodes,
    interNodeLink,
    // Default: NCCL on GPUs, Gloo on CPUs (PyTorch distributed docs, "Which backend to use?":
    // Gloo for distributed CPU training, NCCL for GPU).
    backend: backendGiven ?? (kind === 'gpu' ? 'nccl' : 'gloo'),
    source,
  };
}

function readDeviceType(name: string, r: JsonReader, allowSource: boolean): DeviceType {
  const kind = (r.optString('kind', { oneOf: ['gpu', 'cpu'] }) ?? 'gpu') as 'gpu' | 'cpu';
  const memoryGiB = r.number('memoryGiB', { positive: true });
  const peakTflops16 = r.optNumber('peakTflops16', { min: 0 }) ?? 0;
  const peakTflops32 = r.number('peakTflops32', { positive: true });
  const memoryBandwidthGBps = r.number('memoryBandwidthGBps', { positive: true });
  if (allowSource) r.optString('source');
  r.done();
  return { name, kind, memoryBytes: Math.round(memoryGiB * GIB), peakTflops16, peakTflops32, memoryBandwidthGBps };
}

function readLink<K extends string>(r: JsonReader, kinds: readonly K[]): LinkSpec {
  const kind = r.string('kind', { oneOf: kinds }) as K & LinkSpec['kind'];
  const bandwidthGBps = r.number('bandwidthGBps', { positive: true });
  const latencyUs = r.optNumber('latencyUs', { min: 0 }) ?? DEFAULT_LINK_LATENCY_US[kind];
  r.done();
  return { kind, bandwidthGBps, latencyUs };
}
