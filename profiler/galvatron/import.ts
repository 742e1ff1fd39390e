// `uniap profile import-galvatron DIR`: Galvatron's published measurements -> our Profile, with
// units converted, Galvatron's own modelling assumptions stated, and every repaired value reported
// in provenance.notes. The result carries the cluster the hardware files describe (nodes x GPUs per
// node), so `uniap plan --model M --profile p.json` needs no --cluster.
//
// Which model the layer entries belong to (their shapeKeys must match the ModelSpec planned with):
//   --model M given: M's layers (its hidden size must match the files' `hidden{H}`); Galvatron's
//     layertype_i is M's i-th distinct transformer-block shape in model order (T5: 0 = encoder,
//     1 = cross-decoder); "other" is the embedding(s) + head.
//   otherwise: the model is built from the meta_configs/ folder beside the files (meta-model.ts) and
//     returned as a ModelConfig, which the CLI writes next to the profile; plan with that file.
//
// Units and conversions (Galvatron -> Profile):
//   computation: forward ms per sample per layer (layertype_*), at batch size bsz when the key says
//     so -> forwardMs(b, tp) = b * perSample(bsz nearest b) / tp, / 1 for layers tp replicates (Galvatron scales compute 1/tp and
//     models TP communication separately: tpCommunication 'excluded'); backwardMs = 2 * forwardMs
//     (Galvatron does not measure backward; it assumes 2x).
//   memory: activation MiB per sample per tp (tp_activation_per_bsz_dict) -> activationBytes =
//     MiB * 2^20 * b. The files do not separate a layer's transient backward memory: workingSetBytes
//     uses the spec profile's convention, a weight-gradient buffer (parameterBytes) plus the gradients
//     flowing in and out (2 x the layer's output, B*s*b*h; an embedding 1x).
//     parameter_size (MiB of fp32 parameters) is only cross-checked against our parameter count;
//     parameterBytes comes from the ModelSpec in the training dtype, per tp rank (configs/model-tp.ts).
//   "other" (embedding + head) forward time goes to the head; embeddings get 0 ms (a lookup).
//     Its activation: other_memory_pp_on_first -> embedding, other_memory_pp_on_last -> head.
//   all-reduce bandwidth files hold nccl-tests bus bandwidth, GB/s (= our busBandwidthGBps);
//     consec_1 groups are adjacent ranks (inside a node when they fit), consec_0 strided (across
//     nodes when there are several). all-gather / reduce-scatter get the all-reduce bus bandwidth
//     (nccl-tests' convention makes the three equal for ring algorithms). p2p GB/s -> bus bandwidth
//     with factor 1. Latency: the intercept of an all-reduce fit over sp_time (ms per message size)
//     when present, else 0.
//   overlap_coefficient c (compute and communication both slowed by c when overlapped) ->
//     overlapSlowdown = c - 1.
import path from 'node:path';
import type { ModelConfig, ModelSpec, LayerSpec } from '../../configs/model-spec.ts';
import { UniapError } from '../../common/errors.ts';
import { dtypeBytes, layerActivationBytes, layerParameters, layerShapeKey } from '../../configs/model-derive.ts';
import { layerParametersPerTpRank, tpDivides, tpSplitsCompute } from '../../configs/model-tp.ts';
import { resolveModel } from '../../configs/model-resolve.ts';
import { builtinDeviceTypes } from '../../configs/cluster-resolve.ts';
import { COLLECTIVES, type LayerProfileEntry, type LinkProfileEntry, type Profile, PROFILE_SCHEMA_VERSION } from '../profile.ts';
import { reservedBytes } from '../spec-profile.ts';
import { fitLink, median } from '../measure/fit.ts';
import {
  type ComputationTables,
  type GalvatronScan,
  type HardwareFiles,
  type MemoryTables,
  type ModelDataset,
  readComputation,
  readMemory,
  scanGalvatron,
  type SeqKey,
} from './files.ts';
import { metaCandidates, readMetaDir } from './meta-model.ts';

const MiB = 2 ** 20;
/** Galvatron's measurements were taken on A100 40 GB nodes (its file names say 40GB). */
export const DEFAULT_GALVATRON_DEVICE = 'A100-40GB-SXM';

export interface GalvatronImportOptions {
  /** The model the files describe (default: built from meta_configs beside the files). */
  model?: ModelSpec;
  /** Choose one dataset when DIR holds several: a substring of "<folder>/<dtype>_<tag>". */
  tag?: string;
  /** Choose the hardware files when DIR holds several shapes: "NxD" (nodes x GPUs per node); default the largest. */
  clusterShape?: string;
  /** Extra folder searched for hardware files (allreduce_bandwidth_*, p2p_bandwidth_*, ...). */
  hardwareDir?: string;
  /** Sequence length to take from files that sweep it (default: the model's, or the meta file's, else the smallest measured). */
  seqLength?: number;
  /** Device type name (default A100-40GB-SXM). */
  device?: string;
  /** Device memory, GiB (default: the device type's). */
  memoryGiB?: number;
  /** Per-device micro-batch sizes to tabulate (default: powers of two up to 32 plus every measured batch size). */
  microBatches?: number[];
  date?: Date;
}

export interface GalvatronImportResult {
  profile: Profile;
  model: ModelSpec;
  /** Set when the model was built from meta_configs: save it and plan with `--model FILE`. */
  modelConfig?: ModelConfig;
  dataset: string;
  hardware: string;
}

export function importGalvatron(dir: string, o: GalvatronImportOptions = {}): GalvatronImportResult {
  const scan = scanGalvatron(dir);
  if (o.hardwareDir) {
    const extra = scanGalvatron(o.hardwareDir);
    scan.hardware.push(...extra.hardware.filter((h) => !scan.hardware.some((x) => x.nodes === h.nodes && x.devicesPerNode === h.devicesPerNode)));
    scan.overlapFiles.push(...extra.overlapFiles);
  }
  const notes: string[] = [];
  // File names in notes relative to the imported folder: the profile does not carry machine paths.
  const rel = (f: string) => path.relative(dir, f) || path.basename(f);
  const hw = chooseHardware(scan, o, notes);
  const ds = chooseDataset(scan, o);
  if (!ds.computation) throw new UniapError('CONFIG_INVALID', `${ds.name}: no computation_profiling file; every import needs forward times`);
  const comp = readComputation(ds.computation.file, ds.computation.data, ds.tag);
  const mem = ds.memory ? readMemory(ds.memory.file, ds.memory.data, ds.memory.sequenceParallel) : undefined;
  if (comp.unknownKeys.length > 0) notes.push(`${comp.unknownKeys.length} unrecognized computation keys ignored (e.g. ${comp.unknownKeys[0]})`);

  // ---- the model ----
  let model: ModelSpec;
  let modelConfig: ModelConfig | undefined;
  let seqKey: SeqKey | undefined;
  if (o.model) {
    model = o.model;
    const block = firstBlock(model);
    const hm = /hidden(\d+)/.exec(ds.tag);
    if (hm && block && block.hiddenSize !== Number(hm[1])) {
      throw new UniapError(
        'CONFIG_INVALID',
        `the Galvatron files ${ds.name} describe hidden size ${hm[1]} but model ${model.name} has ${block.hiddenSize}; pass the model they were measured on, or leave out --model to build it from meta_configs`,
      );
    }
    seqKey = matchSeq(comp, model, o.seqLength);
  } else {
    const metas = ds.metaDir ? readMetaDir(ds.metaDir) : [];
    const cands = metaCandidates(metas, ds.tag);
    if (cands.length !== 1) {
      throw new UniapError(
        'CONFIG_INVALID',
        cands.length === 0
          ? `no meta_configs file describes ${ds.name}${ds.metaDir ? ` (looked in ${ds.metaDir})` : ''}; pass --model NAME|FILE to say which model the files were measured on`
          : `several meta_configs files match ${ds.name} (${cands.map((c) => c.name).join(', ')}); pass --model NAME|FILE to say which`,
      );
    }
    const meta = cands[0]!;
    const seqs = [...comp.seqs];
    let chosen: SeqKey | undefined;
    if (o.seqLength !== undefined) {
      chosen = seqs.find((s) => parseSeq(s)[0] === o.seqLength);
      if (!chosen && seqs.length > 0) throw seqError(ds.name, o.seqLength, seqs);
    } else if (meta.positions !== undefined && seqs.some((s) => parseSeq(s)[0] === meta.positions)) {
      chosen = seqs.find((s) => parseSeq(s)[0] === meta.positions);
    } else if (seqs.length > 0) {
      chosen = [...seqs].sort((a, b) => parseSeq(a)[0] - parseSeq(b)[0])[0];
      if (seqs.length > 1) notes.push(`sequence lengths ${seqs.join(', ')} measured; took ${chosen} (choose with --seq)`);
    }
    const [s, sd] = chosen ? parseSeq(chosen) : [o.seqLength ?? meta.positions ?? 0, undefined];
    if (!s) throw new UniapError('CONFIG_INVALID', `${ds.name}: the files state no sequence length; pass --seq N or --model`);
    modelConfig = meta.toConfig(ds.dtype, s, sd);
    model = resolveModel(modelConfig, `galvatron meta ${meta.file}`);
    seqKey = chosen;
    notes.push(`model ${model.name} built from ${rel(meta.file)}`);
  }

  // ---- layers ----
  const blockShapes: LayerSpec[] = [];
  const shapes = new Map<string, LayerSpec>();
  for (const l of model.layers) {
    const k = layerShapeKey(l);
    if (shapes.has(k)) continue;
    shapes.set(k, l);
    if (isBlock(l)) blockShapes.push(l);
  }
  const typeCount = comp.perLayer.size || inferTypeCount(comp);
  if (blockShapes.length !== typeCount) {
    throw new UniapError(
      'CONFIG_INVALID',
      `${ds.name} measures ${typeCount} transformer layer type(s) but model ${model.name} has ${blockShapes.length} distinct block shape(s); pass the model the files were measured on (--model)`,
    );
  }
  const tpsAll = new Set<number>();
  const perType = blockShapes.map((l, i) => {
    const table = clean(`layertype_${i}`, perLayerTable(comp, i, l, seqKey, notes), notes, true);
    const memEntry = layerMemory(mem, i, l, seqKey);
    if (memEntry) {
      const ours = layerParameters(l);
      const theirs = (memEntry.parameterMiB * MiB) / 4;
      if (Math.abs(theirs - ours) / ours > 0.05) {
        notes.push(`layertype_${i}: Galvatron's parameter_size ${memEntry.parameterMiB.toFixed(1)} MiB (fp32) = ${fmtM(theirs)} parameters, our ${l.type} shape has ${fmtM(ours)}; parameterBytes uses ours`);
      }
      for (const tp of memEntry.activationMiBPerSample.keys()) if (tp > 0 && tpDivides(l, tp)) tpsAll.add(tp);
    } else if (mem) {
      notes.push(`layertype_${i}: no processed activation memory (layertype_${i}) in the memory file: activation bytes from Korthikanti et al. 2022 (configs/model-derive.ts)`);
    }
    return { layer: l, table, mem: memEntry };
  });
  if (tpsAll.size === 0) for (const tp of [1, 2, 4, 8]) if (tp <= hw.devicesPerNode) tpsAll.add(tp);
  const tps = [...tpsAll].sort((a, b) => a - b);
  if (!mem) notes.push(`no memory_profiling file for ${ds.name}: activation bytes from Korthikanti et al. 2022 (configs/model-derive.ts)`);
  else if (mem.sequenceParallel) notes.push('memory from sequence-parallel (_sp) measurements: activations of replicated tensors are split tp ways, smaller than plain Megatron TP');

  const otherTable = clean('layertype_other', otherTable_(comp, model, perType.map((p) => p.table), seqKey, notes), notes, false);
  const measuredBsz = new Set<number>();
  for (const p of perType) for (const b of p.table.keys()) if (b > 0) measuredBsz.add(b);
  const microBatches = o.microBatches ?? [...new Set([1, 2, 4, 8, 16, 32, ...measuredBsz])].sort((a, b) => a - b);

  const layers: LayerProfileEntry[] = [];
  for (const [shapeKey, l] of shapes) {
    const blockIdx = blockShapes.indexOf(l);
    for (const tp of tps) {
      if (!tpDivides(l, tp)) continue;
      const parameterBytes = layerParametersPerTpRank(l, tp) * dtypeBytes(l.dtype);
      for (const b of microBatches) {
        let perSampleMs: number;
        let actBytes: number;
        if (blockIdx >= 0) {
          const p = perType[blockIdx]!;
          perSampleMs = valueAt(p.table, b);
          const act = p.mem?.activationMiBPerSample.get(tp);
          actBytes = act !== undefined ? act * MiB * b : layerActivationBytes(l, b, tp);
        } else {
          perSampleMs = l.type === 'head' ? valueAt(otherTable, b) : 0;
          actBytes = otherActivation(mem, l, tp, b, seqKey, model);
        }
        const forwardMs = (b * perSampleMs) / (tpSplitsCompute(l) ? tp : 1);
        layers.push({
          shapeKey,
          microBatch: b,
          tp,
          forwardMs,
          backwardMs: 2 * forwardMs,
          tpCommunication: 'excluded',
          activationBytes: Math.round(actBytes),
          workingSetBytes: Math.round(parameterBytes + transientGradientBytes(l, b)),
          parameterBytes: Math.round(parameterBytes),
        });
      }
    }
  }
  notes.push(
    `computation: ${rel(ds.computation.file)} (forward ms per sample per layer; backward = 2 x forward as Galvatron assumes; time / tp, TP communication excluded); ` +
      `'other' (embedding + head) forward time assigned to the head, embeddings 0 ms`,
  );
  if (mem && ds.memory) notes.push(`memory: ${rel(ds.memory.file)} (activation MiB per sample per tp -> bytes x micro-batch; parameters from the model spec); working set = weight-gradient buffer + 2 hidden-state gradients (not in the files; the spec profile's convention)`);

  // ---- links ----
  const links = importLinks(scan, hw, notes, rel);
  const overlap = hw.overlap ?? scan.overlapFiles[0];
  let overlapSlowdown = 0;
  if (overlap) {
    overlapSlowdown = Math.max(0, overlap.coefficient - 1);
    notes.push(`overlapSlowdown = overlap_coe - 1 = ${overlapSlowdown.toFixed(4)} (${rel(overlap.file)})`);
  } else notes.push('no overlap_coefficient.json: overlapSlowdown 0');

  // ---- device ----
  const deviceName = o.device ?? DEFAULT_GALVATRON_DEVICE;
  const known = builtinDeviceTypes().get(deviceName);
  const capacityBytes = o.memoryGiB !== undefined ? o.memoryGiB * 2 ** 30 : (known?.memoryBytes ?? 40 * 2 ** 30);
  const reserved = reservedBytes('gpu', capacityBytes);
  notes.push(`device ${deviceName}, ${(capacityBytes / 2 ** 30).toFixed(0)} GiB; reservedBytes = 1 GiB + 5% (the spec profile's estimate; the files do not say)`);

  const profile: Profile = {
    schemaVersion: PROFILE_SCHEMA_VERSION,
    provenance: {
      kind: 'imported',
      device: deviceName,
      date: (o.date ?? new Date()).toISOString(),
      tool: `galvatron import of ${dir}`,
      versions: { dataset: ds.name, hardware: `${hw.nodes}x${hw.devicesPerNode}`, model: model.name },
      notes,
    },
    device: { name: deviceName, capacityBytes, reservedBytes: reserved },
    cluster: { name: `galvatron-${hw.nodes}x${hw.devicesPerNode}`, nodes: hw.nodes, devicesPerNode: hw.devicesPerNode },
    overlapSlowdown,
    layers,
    links,
  };
  const result: GalvatronImportResult = { profile, model, dataset: ds.name, hardware: `${hw.nodes}x${hw.devicesPerNode}` };
  if (modelConfig) result.modelConfig = modelConfig;
  return result;
}

// ---- choosing files ----

function chooseHardware(scan: GalvatronScan, o: GalvatronImportOptions, notes: string[]): HardwareFiles {
  const withAr = scan.hardware.filter((h) => h.allreduce);
  if (withAr.length === 0) {
    throw new UniapError(
      'CONFIG_INVALID',
      `no allreduce_bandwidth_{N}nodes_{D}gpus_per_node.json under ${scan.root}; import a folder that also holds Galvatron's hardware_configs, or add one with --hardware DIR`,
    );
  }
  const shapes = withAr.map((h) => `${h.nodes}x${h.devicesPerNode}`);
  if (o.clusterShape) {
    const h = withAr.find((x) => `${x.nodes}x${x.devicesPerNode}` === o.clusterShape);
    if (!h) throw new UniapError('CONFIG_INVALID', `no hardware files for cluster shape ${o.clusterShape}; the files describe ${shapes.join(', ')}`);
    return h;
  }
  const h = [...withAr].sort((a, b) => b.nodes * b.devicesPerNode - a.nodes * a.devicesPerNode || b.nodes - a.nodes)[0]!;
  if (withAr.length > 1) notes.push(`hardware files for ${shapes.join(', ')}; took the largest, ${h.nodes}x${h.devicesPerNode} (choose with --cluster-shape)`);
  return h;
}

function chooseDataset(scan: GalvatronScan, o: GalvatronImportOptions): ModelDataset {
  let ds = scan.datasets.filter((d) => d.computation);
  if (ds.length === 0) throw new UniapError('CONFIG_INVALID', `no computation_profiling_*.json under ${scan.root}; give the folder holding Galvatron's model profiles`);
  if (o.tag) {
    const tag = o.tag.toLowerCase();
    ds = ds.filter((d) => d.name.toLowerCase().includes(tag));
    // "gpt_hf/bf16_hidden4096_head32" names one dataset although a longer name contains it too.
    const exact = ds.filter((d) => d.name.toLowerCase().endsWith(tag));
    if (ds.length > 1 && exact.length === 1) ds = exact;
    if (ds.length === 0) throw new UniapError('CONFIG_INVALID', `no Galvatron dataset matches --tag ${o.tag}; choose one of: ${scan.datasets.filter((d) => d.computation).map((d) => d.name).join(', ')}`);
  } else if (ds.length > 1 && o.model) {
    const block = firstBlock(o.model);
    const byHidden = ds.filter((d) => block && new RegExp(`hidden${block.hiddenSize}(?!\\d)`).test(d.tag));
    if (byHidden.length > 0) ds = byHidden;
  }
  if (ds.length > 1) {
    throw new UniapError('CONFIG_INVALID', `${scan.root} holds ${ds.length} Galvatron model profiles; choose one with --tag (one of: ${ds.map((d) => d.name).join(', ')})`);
  }
  return ds[0]!;
}

// ---- computation tables ----

function isBlock(l: LayerSpec): boolean {
  return l.type === 'encoder' || l.type === 'decoder' || l.type === 'cross-decoder' || l.type === 'swin';
}

function firstBlock(m: ModelSpec): LayerSpec | undefined {
  return m.layers.find(isBlock);
}

export { clean as repairForwardTimes };

/** "4096" -> [4096]; "[512,256]" -> [512, 256]. */
export function parseSeq(s: SeqKey): [number, number | undefined] {
  const nums = s.replace(/[[\]]/g, '').split(',').map(Number);
  return [nums[0] ?? 0, nums[1]];
}

function seqError(name: string, want: number, seqs: string[]): UniapError {
  return new UniapError('CONFIG_INVALID', `${name} measures sequence length(s) ${seqs.join(', ')}, not ${want}; plan a model with one of those lengths or choose it with --seq`);
}

/** The measured sequence key matching the model's sequence length(s). */
function matchSeq(comp: ComputationTables, model: ModelSpec, want?: number): SeqKey | undefined {
  const enc = model.layers.find((l) => isBlock(l) && l.chain === 'encoder');
  const dec = model.layers.find((l) => isBlock(l) && l.chain === 'decoder');
  const s = want ?? (enc ?? dec)?.seqLength ?? 0;
  const seqs = [...comp.seqs];
  if (seqs.length === 0) return undefined;
  const exact = seqs.find((k) => {
    const [a, b] = parseSeq(k);
    return a === s && (b === undefined || !enc || !dec || b === dec.seqLength);
  });
  if (!exact) throw seqError(`the Galvatron files`, s, seqs);
  return exact;
}

/** Keys a table may use for a layer: the full key ("[512,512]"), the layer's own length, or none. */
function seqKeysFor(seqKey: SeqKey | undefined, l: LayerSpec | undefined): SeqKey[] {
  const keys: SeqKey[] = [];
  if (seqKey !== undefined) keys.push(seqKey);
  if (l) keys.push(String(l.seqLength));
  if (seqKey !== undefined) keys.push(String(parseSeq(seqKey)[0]));
  keys.push('');
  return keys;
}

function inferTypeCount(comp: ComputationTables): number {
  return comp.raw.reduce((n, r) => Math.max(n, r.layers.length), 0);
}

/** Forward ms per sample of layer type i by batch size (0 = any): processed keys, else differences of raw runs. */
function perLayerTable(comp: ComputationTables, i: number, l: LayerSpec, seqKey: SeqKey | undefined, notes: string[]): Map<number, number> {
  const byType = comp.perLayer.get(i);
  if (byType) {
    for (const k of seqKeysFor(seqKey, l)) {
      const t = byType.get(k);
      if (t) return new Map(t);
    }
    if (byType.size === 1) return new Map([...byType.values()][0]!);
  }
  const derived = fromRawDifferences(comp, i, seqKey);
  if (derived.size > 0) {
    notes.push(`layertype_${i}: per-layer time derived from differences of whole-model runs (layernum keys)`);
    return derived;
  }
  throw new UniapError('CONFIG_INVALID', `the computation file has no forward time for layer type ${i} at sequence ${seqKey ?? '(any)'}; it cannot be imported`);
}

function rawAt(comp: ComputationTables, seqKey: SeqKey | undefined) {
  const keys = seqKeysFor(seqKey, undefined);
  for (const k of keys) {
    const runs = comp.raw.filter((r) => r.seq === k);
    if (runs.length > 0) return runs;
  }
  return comp.raw.length > 0 && new Set(comp.raw.map((r) => r.seq)).size === 1 ? comp.raw : [];
}

/** (T(L_i + d) - T(L_i)) / d / bsz over pairs of runs that differ only in type i's count; the widest pair per bsz. */
function fromRawDifferences(comp: ComputationTables, i: number, seqKey: SeqKey | undefined): Map<number, number> {
  const runs = rawAt(comp, seqKey);
  const out = new Map<number, { v: number; d: number }>();
  for (const a of runs) {
    for (const b of runs) {
      if (a.bsz !== b.bsz || a.layers.length !== b.layers.length) continue;
      const d = (b.layers[i] ?? 0) - (a.layers[i] ?? 0);
      if (d <= 0) continue;
      if (a.layers.some((n, j) => j !== i && n !== b.layers[j])) continue;
      const v = (b.ms - a.ms) / d / a.bsz;
      const prev = out.get(a.bsz);
      if (!prev || d > prev.d) out.set(a.bsz, { v, d });
    }
  }
  return new Map([...out].map(([bsz, x]) => [bsz, x.v]));
}

/** "other" (embedding + head) forward ms per sample by batch size; derived from a raw run when absent. */
function otherTable_(comp: ComputationTables, model: ModelSpec, perType: Map<number, number>[], seqKey: SeqKey | undefined, notes: string[]): Map<number, number> {
  for (const k of seqKeysFor(seqKey, firstBlock(model))) {
    const t = comp.other.get(k);
    if (t) return new Map(t);
  }
  if (comp.other.size === 1) return new Map([...comp.other.values()][0]!);
  // other(b) = T(run)/b - sum_i L_i * perLayer_i(b), from the run with the fewest layers per batch size.
  const runs = rawAt(comp, seqKey);
  const best = new Map<number, (typeof runs)[number]>();
  for (const r of runs) {
    const cur = best.get(r.bsz);
    if (!cur || sum(r.layers) < sum(cur.layers)) best.set(r.bsz, r);
  }
  const out = new Map<number, number>();
  for (const [bsz, r] of best) {
    let layersMs = 0;
    r.layers.forEach((n, i) => (layersMs += n * valueAt(perType[i] ?? new Map(), bsz)));
    out.set(bsz, r.ms / bsz - layersMs);
  }
  if (out.size > 0) notes.push('layertype_other (embedding + head) derived as whole-model time / bsz - layers x per-layer time');
  else notes.push('no embedding/head ("other") time in the files: head forward time 0');
  return out;
}

function sum(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0);
}

/**
 * Per-sample times <= 0 are noise (differences of two runs, README "known quirks"): each is
 * replaced by the median of the positive values of the same table and reported. A table with no
 * positive value: layers fail the import; "other" becomes 0.
 */
function clean(name: string, t: Map<number, number>, notes: string[], required: boolean): Map<number, number> {
  const positive = [...t.values()].filter((v) => v > 0);
  const bad = [...t].filter(([, v]) => !(v > 0));
  if (bad.length === 0) return t;
  if (positive.length === 0) {
    if (required) throw new UniapError('CONFIG_INVALID', `${name}: every forward time in the files is <= 0 (${bad.map(([, v]) => v.toFixed(3)).join(', ')} ms); the file is unusable`);
    notes.push(`${name}: all values <= 0 (${bad.map(([b, v]) => `bsz ${b || 'any'}: ${v.toFixed(3)}`).join(', ')}) replaced by 0`);
    return new Map([...t].map(([b]) => [b, 0]));
  }
  const m = median(positive);
  const out = new Map(t);
  for (const [b, v] of bad) out.set(b, m);
  notes.push(
    `${name}: ${bad.length} non-positive per-sample forward time(s) (noise from differencing two runs): ` +
      `${bad.map(([b, v]) => `bsz ${b || 'any'}: ${v.toFixed(3)} ms`).join(', ')}; replaced by ${m.toFixed(3)} ms, the median of the positive values`,
  );
  return out;
}

/** The table's value at batch size b: exact, else the 'any' entry, else the nearest measured bsz (log scale). */
function valueAt(t: Map<number, number>, b: number): number {
  const exact = t.get(b);
  if (exact !== undefined) return exact;
  const any = t.get(0);
  if (any !== undefined) return any;
  let best: [number, number] | undefined;
  for (const [bsz, v] of t) {
    if (!best || Math.abs(Math.log(bsz / b)) < Math.abs(Math.log(best[0] / b))) best = [bsz, v];
  }
  return best ? best[1] : 0;
}

// ---- memory tables ----

function layerMemory(mem: MemoryTables | undefined, i: number, l: LayerSpec, seqKey: SeqKey | undefined) {
  const bySeq = mem?.layers.get(i);
  if (!bySeq) return undefined;
  for (const k of seqKeysFor(seqKey, l)) {
    const e = bySeq.get(k);
    if (e) return e;
  }
  return bySeq.size === 1 ? [...bySeq.values()][0] : undefined;
}

/** Embedding: other_memory_pp_on_first; head: pp_on_last (else pp_off); MiB per sample; formula when absent. */
function otherActivation(mem: MemoryTables | undefined, l: LayerSpec, tp: number, b: number, seqKey: SeqKey | undefined, model: ModelSpec): number {
  const which = l.type === 'head' ? (['last', 'off'] as const) : (['first'] as const);
  for (const w of which) {
    const bySeq = mem?.other.get(w);
    if (!bySeq) continue;
    let entry;
    for (const k of seqKeysFor(seqKey, firstBlock(model))) if ((entry = bySeq.get(k))) break;
    entry ??= bySeq.size === 1 ? [...bySeq.values()][0] : undefined;
    if (!entry) continue;
    const v = entry.activationMiBPerSample.get(tp);
    if (v !== undefined) return v * MiB * b;
    const any = entry.activationMiBPerSample.get(0);
    if (any !== undefined) return (any / tp) * MiB * b;
  }
  return layerActivationBytes(l, b, tp);
}

// ---- links ----

function importLinks(scan: GalvatronScan, hw: HardwareFiles, notes: string[], rel: (f: string) => string): LinkProfileEntry[] {
  const N = hw.nodes;
  const D = hw.devicesPerNode;
  const byShape = new Map<string, { g: number; nodes: number; bw: number; from: string[] }>();
  for (const [key, bw] of Object.entries(hw.allreduce!.data)) {
    const m = /^allreduce_size_(\d+)_consec_([01])$/.exec(key);
    if (!m) continue;
    const g = Number(m[1]);
    const consec = m[2] === '1';
    if (g < 2) continue;
    // consec_1: adjacent ranks, inside a node while they fit; consec_0: strided, over min(N, g) nodes.
    const nodes = N === 1 ? 1 : consec ? Math.ceil(g / D) : Math.min(N, g);
    const k = `${g}|${nodes}`;
    const prev = byShape.get(k);
    if (!prev || bw < prev.bw) byShape.set(k, { g, nodes, bw, from: [...(prev?.from ?? []), key] });
    else prev.from.push(key);
  }
  const merged = [...byShape.values()].filter((e) => e.from.length > 1);
  if (merged.length > 0) notes.push(`all-reduce: adjacent and strided groups on the same node span (${merged.map((e) => e.from.join(' & ')).join('; ')}): the lower bus bandwidth kept`);

  // Latency per group size: the intercept of an all-reduce fit over sp_time (ms by MB), from this
  // shape's file or a one-node file with the same GPUs per node.
  const sp = hw.spTime ?? scan.hardware.find((h) => h.nodes === 1 && h.devicesPerNode === D)?.spTime;
  const latency = new Map<number, number>();
  if (sp) {
    const points = new Map<number, { bytes: number; timeMs: number }[]>();
    for (const [key, ms] of Object.entries(sp.data)) {
      const m = /^allreduce_size_(\d+)_(\d+)MB_time$/.exec(key);
      if (!m) continue;
      const list = points.get(Number(m[1])) ?? [];
      list.push({ bytes: Number(m[2]) * MiB, timeMs: ms });
      points.set(Number(m[1]), list);
    }
    for (const [g, pts] of points) latency.set(g, fitLink('all-reduce', g, 1, pts).entry.latencyMs);
    notes.push(`latency: intercept of an all-reduce fit over ${rel(sp.file)} (sizes 1 MiB..); groups across nodes take the same intra-node latency (a lower bound); its all-to-all rows are not used`);
  } else notes.push('latency: no sp_time file, latencyMs 0');
  const latencyFor = (g: number) => {
    if (latency.has(g)) return latency.get(g)!;
    let best: number | undefined;
    for (const k of latency.keys()) if (best === undefined || Math.abs(Math.log(k / g)) < Math.abs(Math.log(best / g))) best = k;
    return best !== undefined ? latency.get(best)! : 0;
  };

  const links: LinkProfileEntry[] = [];
  for (const e of [...byShape.values()].sort((a, b) => a.g - b.g || a.nodes - b.nodes)) {
    for (const c of COLLECTIVES) {
      if (c === 'p2p') continue;
      links.push({ collective: c, groupSize: e.g, nodes: e.nodes, latencyMs: latencyFor(e.g), busBandwidthGBps: e.bw });
    }
  }
  notes.push(`links: bus bandwidth from ${rel(hw.allreduce!.file)} (GB/s, nccl-tests convention); all-gather and reduce-scatter take the all-reduce's bus bandwidth (not measured by Galvatron)`);

  // p2p inside a node: the one-node p2p file with the same GPUs per node (or this shape's when one
  // node); across nodes: this shape's file. The lowest over pipeline degrees (all stages sending).
  const minOf = (d: Record<string, number>) => Math.min(...Object.entries(d).filter(([k]) => /^pp_size_\d+$/.test(k)).map(([, v]) => v));
  const intraP2p = N === 1 ? hw.p2p : scan.hardware.find((h) => h.nodes === 1 && h.devicesPerNode === D)?.p2p;
  const lat2 = latencyFor(2);
  if (intraP2p) {
    links.push({ collective: 'p2p', groupSize: 2, nodes: 1, latencyMs: lat2, busBandwidthGBps: minOf(intraP2p.data) });
    notes.push(`p2p inside a node: lowest pp_size_* of ${rel(intraP2p.file)}`);
  } else {
    const ar2 = byShape.get('2|1');
    if (ar2) {
      links.push({ collective: 'p2p', groupSize: 2, nodes: 1, latencyMs: lat2, busBandwidthGBps: ar2.bw });
      notes.push('p2p inside a node: no one-node p2p file; the 2-rank all-reduce bus bandwidth used');
    }
  }
  if (N > 1 && hw.p2p) {
    links.push({ collective: 'p2p', groupSize: 2, nodes: 2, latencyMs: lat2, busBandwidthGBps: minOf(hw.p2p.data) });
    notes.push(`p2p across nodes: lowest pp_size_* of ${rel(hw.p2p.file)}`);
  }
  return links;
}

/** Gradients flowing into and out of a layer's backward: 2 hidden-state tensors (an embedding: its output's only). */
function transientGradientBytes(l: LayerSpec, b: number): number {
  const hidden = dtypeBytes(l.dtype) * l.seqLength * b * l.hiddenSize;
  return l.type === 'embedding' || l.type === 'patch-embedding' ? hidden : 2 * hidden;
}

function fmtM(n: number): string {
  return `${(n / 1e6).toFixed(1)}M`;
}
