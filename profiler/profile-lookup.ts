// ProfileLookup: answers the cost model's two questions from a Profile — one layer shape's compute
// and memory at a micro-batch size and TP degree (interpolating between tabulated sizes), and one
// collective's time on a group shape (nccl-tests bus-bandwidth model) — or says precisely what the
// profile lacks (PROFILE_MISSING) and how to get it.
import { UniapError } from '../common/errors.ts';
import { busFactor, type Collective, type LayerProfileEntry, type LinkProfileEntry, type Profile } from './profile.ts';

const FIX = 'profile this model and cluster with `uniap profile --model ... --cluster ...`, or plan without --profile to use the datasheet (spec) profile';

export class ProfileLookup {
  /** shapeKey -> tp -> entries sorted by microBatch. */
  private readonly layers = new Map<string, Map<number, LayerProfileEntry[]>>();
  /** `${collective}|${nodes}` -> entries sorted by groupSize. */
  private readonly links = new Map<string, LinkProfileEntry[]>();

  constructor(readonly profile: Profile) {
    for (const e of profile.layers) {
      let byTp = this.layers.get(e.shapeKey);
      if (!byTp) this.layers.set(e.shapeKey, (byTp = new Map()));
      let list = byTp.get(e.tp);
      if (!list) byTp.set(e.tp, (list = []));
      list.push(e);
    }
    for (const byTp of this.layers.values()) for (const list of byTp.values()) list.sort((a, b) => a.microBatch - b.microBatch);
    for (const e of profile.links) {
      const key = `${e.collective}|${e.nodes}`;
      let list = this.links.get(key);
      if (!list) this.links.set(key, (list = []));
      list.push(e);
    }
    for (const list of this.links.values()) list.sort((a, b) => a.groupSize - b.groupSize);
  }

  /** Whether the profile has any entry for layer shape `shapeKey`. */
  hasShape(shapeKey: string): boolean {
    return this.layers.has(shapeKey);
  }

  /** The tensor-parallel degrees the profile tabulates for `shapeKey`, ascending (empty when the shape is absent). */
  tpDegrees(shapeKey: string): number[] {
    return [...(this.layers.get(shapeKey)?.keys() ?? [])].sort((a, b) => a - b);
  }

  /**
   * Whether `layer` can answer for `shapeKey` at tp `tp`: the shape has entries at that degree. A
   * profile may cover only some degrees (an imported Galvatron profile, a partial measurement); the
   * search then restricts itself to those (planner/cost-model/build.ts) and says so.
   */
  coversTp(shapeKey: string, tp: number): boolean {
    return (this.layers.get(shapeKey)?.get(tp)?.length ?? 0) > 0;
  }

  /**
   * The entry for `shapeKey` at `microBatch` samples per device and TP degree `tp`: the tabulated
   * one when present; else piecewise-linear interpolation in microBatch between the two nearest
   * tabulated sizes, or linear extrapolation from the two nearest beyond the range (clamped at 0);
   * with a single tabulated size, proportional scaling (time and activations ~ micro-batch).
   * forwardMs, backwardMs, activationBytes and workingSetBytes are interpolated; parameterBytes does
   * not depend on the micro-batch. The result carries the flag 'interpolated' or 'extrapolated'.
   */
  layer(shapeKey: string, microBatch: number, tp: number): LayerProfileEntry {
    const byTp = this.layers.get(shapeKey);
    if (!byTp) {
      const have = [...this.layers.keys()];
      throw new UniapError(
        'PROFILE_MISSING',
        `the profile (${this.describe()}) has no layer of shape ${shapeKey}; it has ${have.length ? have.join(', ') : 'no layers'}; ${FIX}`,
        { shapeKey, shapes: have },
      );
    }
    const list = byTp.get(tp);
    if (!list || list.length === 0) {
      const tps = [...byTp.keys()].sort((a, b) => a - b);
      throw new UniapError(
        'PROFILE_MISSING',
        `the profile (${this.describe()}) has layer shape ${shapeKey} at tp ${tps.join(', ')} but not at tp ${tp}; ${FIX}`,
        { shapeKey, tp, tps },
      );
    }
    const exact = list.find((e) => e.microBatch === microBatch);
    if (exact) return exact;

    let lo: LayerProfileEntry;
    let hi: LayerProfileEntry;
    const first = list[0]!;
    const last = list[list.length - 1]!;
    if (list.length === 1) {
      const s = microBatch / first.microBatch;
      return derived(first, microBatch, (f) => f(first) * s, 'extrapolated');
    }
    if (microBatch < first.microBatch) [lo, hi] = [first, list[1]!];
    else if (microBatch > last.microBatch) [lo, hi] = [list[list.length - 2]!, last];
    else {
      const i = list.findIndex((e) => e.microBatch > microBatch);
      [lo, hi] = [list[i - 1]!, list[i]!];
    }
    const t = (microBatch - lo.microBatch) / (hi.microBatch - lo.microBatch);
    const flag = t < 0 || t > 1 ? 'extrapolated' : 'interpolated';
    return derived(lo, microBatch, (f) => Math.max(0, f(lo) + t * (f(hi) - f(lo))), flag);
  }

  /**
   * Milliseconds for one `collective` of `bytes` (full buffer size) on `groupSize` ranks spanning
   * `nodes` nodes: latencyMs + busFactor(c, n) * bytes / (busBandwidthGBps * 1e6) (nccl-tests
   * PERFORMANCE.md). A group of 1 costs nothing. Without an exact (collective, groupSize, nodes)
   * entry, the entry with the same collective and node count and the nearest group size (in log
   * scale) supplies latency and bus bandwidth, and the bus factor of the requested size is applied.
   */
  collectiveMs(c: Collective, bytes: number, groupSize: number, nodes: number): number {
    if (groupSize <= 1 || bytes <= 0) return 0;
    const list = this.links.get(`${c}|${nodes}`);
    if (!list || list.length === 0) {
      const spans = [...new Set(this.profile.links.filter((e) => e.collective === c).map((e) => e.nodes))].sort((a, b) => a - b);
      throw new UniapError(
        'PROFILE_MISSING',
        `the profile (${this.describe()}) has no ${c} over ${nodes} node${nodes === 1 ? '' : 's'} (needed for a group of ${groupSize}); ` +
          `it has ${c} over ${spans.length ? spans.join(', ') + ' node(s)' : 'no node span'}; ${FIX}`,
        { collective: c, groupSize, nodes, spans },
      );
    }
    let best = list[0]!;
    for (const e of list) {
      if (e.groupSize === groupSize) {
        best = e;
        break;
      }
      if (Math.abs(Math.log(e.groupSize / groupSize)) < Math.abs(Math.log(best.groupSize / groupSize))) best = e;
    }
    return best.latencyMs + (busFactor(c, groupSize) * bytes) / (best.busBandwidthGBps * 1e6);
  }

  private describe(): string {
    const p = this.profile;
    return `${p.provenance.kind} on ${p.provenance.device}${p.cluster ? `, cluster ${p.cluster.name}` : ''}`;
  }
}

function derived(
  base: LayerProfileEntry,
  microBatch: number,
  value: (f: (e: LayerProfileEntry) => number) => number,
  flag: 'interpolated' | 'extrapolated',
): LayerProfileEntry {
  return {
    shapeKey: base.shapeKey,
    microBatch,
    tp: base.tp,
    forwardMs: value((e) => e.forwardMs),
    backwardMs: value((e) => e.backwardMs),
    tpCommunication: base.tpCommunication,
    activationBytes: Math.round(value((e) => e.activationBytes)),
    workingSetBytes: Math.round(value((e) => e.workingSetBytes)),
    parameterBytes: base.parameterBytes,
    flags: [...(base.flags ?? []), flag],
  };
}
