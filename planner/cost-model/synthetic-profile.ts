// Synthetic profiles with chosen numbers, for tests and examples of the closed forms: every layer
// takes `forwardMs(layer, m, tp)` forward and twice that backward, activations from the Megatron
// formulas, and every collective costs `latencyMs + busFactor * bytes / bandwidth`.
import type { ModelSpec, LayerSpec } from '../../configs/model-spec.ts';
import type { Profile, LayerProfileEntry, LinkProfileEntry } from '../../profiler/profile.ts';
import { PROFILE_SCHEMA_VERSION, COLLECTIVES, busFactor, type Collective } from '../../profiler/profile.ts';
import { layerShapeKey, layerActivationBytes, layerStoredParameters, dtypeBytes } from '../../configs/model-derive.ts';
import { tpDivides } from '../../configs/model-tp.ts';

export interface SyntheticProfileSpec {
  microBatches: number[];
  tpDegrees: number[];
  forwardMs: (layer: LayerSpec, microBatch: number, tp: number) => number;
  workingSetBytes?: number;
  capacityBytes: number;
  reservedBytes?: number;
  link: { latencyMs: number; busBandwidthGBps: number; maxGroup: number; maxNodes: number };
}

/** The time a synthetic link gives a collective: what tests compare the cost model's terms with. */
export function syntheticCollectiveMs(link: { latencyMs: number; busBandwidthGBps: number }) {
  return (c: Collective, bytes: number, n: number): number => link.latencyMs + (busFactor(c, n) * bytes) / (link.busBandwidthGBps * 1e6);
}

export function syntheticProfile(model: ModelSpec, spec: SyntheticProfileSpec): Profile {
  const layers: LayerProfileEntry[] = [];
  const seen = new Set<string>();
  for (const l of model.layers) {
    const key = layerShapeKey(l);
    if (seen.has(key)) continue;
    seen.add(key);
    for (const m of spec.microBatches) {
      for (const tp of spec.tpDegrees) {
        if (!tpDivides(l, tp)) continue;
        const f = spec.forwardMs(l, m, tp);
        layers.push({
          shapeKey: key, microBatch: m, tp, forwardMs: f, backwardMs: 2 * f, tpCommunication: 'excluded',
          activationBytes: layerActivationBytes(l, m, tp), workingSetBytes: spec.workingSetBytes ?? 0,
          parameterBytes: (layerStoredParameters(l) / tp) * dtypeBytes(l.dtype),
        });
      }
    }
  }
  const links: LinkProfileEntry[] = [];
  for (const collective of COLLECTIVES) {
    for (let n = 2; n <= spec.link.maxGroup; n *= 2) {
      for (let nodes = 1; nodes <= Math.min(n, spec.link.maxNodes); nodes *= 2) {
        links.push({ collective, groupSize: collective === 'p2p' ? 2 : n, nodes, latencyMs: spec.link.latencyMs, busBandwidthGBps: spec.link.busBandwidthGBps });
      }
      if (collective === 'p2p') break;
    }
  }
  return {
    schemaVersion: PROFILE_SCHEMA_VERSION,
    provenance: { kind: 'derived', device: 'synthetic', date: '2026-01-01T00:00:00Z', tool: 'synthetic-profile (tests)' },
    device: { name: 'synthetic', capacityBytes: spec.capacityBytes, reservedBytes: spec.reservedBytes ?? 0 },
    overlapSlowdown: 0,
    layers,
    links,
  };
}
