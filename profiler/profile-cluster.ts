// The ClusterSpec an imported profile describes (Profile.cluster: nodes x devices per node), so
// `uniap plan --model M --profile p.json` needs no --cluster. The profile's own link numbers are what
// the cost model uses; the spec's links only fill the contract. Device datasheet numbers (for MFU)
// come from the built-in catalog when the profile's device name is in it.
import type { ClusterSpec, DeviceType } from '../configs/cluster-spec.ts';
import { CLUSTER_SCHEMA_VERSION } from '../configs/cluster-spec.ts';
import { builtinDeviceTypes } from '../configs/cluster-resolve.ts';
import type { Profile } from './profile.ts';
import { UniapError } from '../common/errors.ts';

export function clusterFromProfile(profile: Profile): ClusterSpec {
  const pc = profile.cluster;
  if (!pc) {
    throw new UniapError('CONFIG_INVALID', `the profile (${profile.provenance.tool}) does not say which cluster it describes; pass --cluster NAME`);
  }
  const known = builtinDeviceTypes().get(profile.device.name);
  const deviceType: DeviceType = known
    ? { ...known, memoryBytes: profile.device.capacityBytes }
    : { name: profile.device.name, kind: 'gpu', memoryBytes: profile.device.capacityBytes, peakTflops16: 0, peakTflops32: 0, memoryBandwidthGBps: 0 };
  const intra = profile.links.find((l) => l.nodes === 1 && l.collective === 'all-reduce');
  const inter = profile.links.find((l) => l.nodes > 1 && l.collective === 'all-reduce');
  return {
    schemaVersion: CLUSTER_SCHEMA_VERSION,
    name: pc.name,
    nodes: Array.from({ length: pc.nodes }, (_, index) => ({
      index,
      deviceType,
      devices: pc.devicesPerNode,
      intraNodeLink: { kind: 'nvlink', bandwidthGBps: intra?.busBandwidthGBps ?? 0, latencyUs: (intra?.latencyMs ?? 0) * 1000 },
    })),
    interNodeLink: pc.nodes > 1 ? { kind: 'infiniband', bandwidthGBps: (inter?.busBandwidthGBps ?? 0) * pc.devicesPerNode, latencyUs: (inter?.latencyMs ?? 0) * 1000 } : null,
    backend: deviceType.kind === 'cpu' ? 'gloo' : 'nccl',
    source: `profile (${profile.provenance.tool})`,
  };
}
