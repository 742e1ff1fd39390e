// Finding and reading Galvatron's profile files (PKU-DAIR/Hetu-Galvatron's published JSON; format
// notes in fixtures/README.md). Only reading and key parsing lives here; units and the
// mapping to our Profile are in import.ts.
//
// Recognized names (searched recursively under the directory given):
//   allreduce_bandwidth_{N}nodes_{D}gpus_per_node.json  all-reduce bus bandwidth, GB/s
//   p2p_bandwidth_{N}nodes_{D}gpus_per_node.json        point-to-point bandwidth, GB/s
//   sp_time_{N}nodes_{D}gpus_per_node.json              ms per all-reduce / all-to-all by size
//   overlap_coefficient.json                            compute slowdown factor under overlap
//   .../configs/computation_profiling_{dtype}_{tag}.json  forward ms
//   .../configs/memory_profiling_{dtype}_{tag}[_sp].json  MiB
//   .../meta_configs/*.json                             model hyper-parameters
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, UniapError } from '../../common/errors.ts';
import { parseJsonText } from '../../common/json-file.ts';

export interface HardwareFiles {
  nodes: number;
  devicesPerNode: number;
  allreduce?: { file: string; data: Record<string, number> };
  p2p?: { file: string; data: Record<string, number> };
  spTime?: { file: string; data: Record<string, number> };
  /** overlap_coefficient.json in the same folder as the files of this shape, if any. */
  overlap?: { file: string; coefficient: number };
}

export interface ModelDataset {
  /** "<folder relative to the import root>/<dtype>_<tag>", the name --tag matches against. */
  name: string;
  dtype: 'bf16' | 'fp16' | 'fp32';
  tag: string;
  computation?: { file: string; data: Record<string, unknown> };
  /** Memory file without the sequence-parallel suffix, else the `_sp` one. */
  memory?: { file: string; data: Record<string, unknown>; sequenceParallel: boolean };
  /** meta_configs folder beside the configs folder, if any. */
  metaDir?: string;
}

export interface GalvatronScan {
  root: string;
  hardware: HardwareFiles[];
  /** overlap_coefficient.json files found anywhere. */
  overlapFiles: { file: string; coefficient: number }[];
  datasets: ModelDataset[];
}

const HW_RE = /^(allreduce_bandwidth|p2p_bandwidth|sp_time)_(\d+)nodes_(\d+)gpus_per_node\.json$/;
const COMP_RE = /^computation_profiling_(bf16|fp16|fp32)_(.+)\.json$/;
const MEM_RE = /^memory_profiling_(bf16|fp16|fp32)_(.+?)(_sp)?\.json$/;

export function readJsonFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new UniapError('FILE_NOT_FOUND', `cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? 'error'})`, { file });
  }
  return parseJsonText(text, file);
}

function numberMap(file: string, v: unknown): Record<string, number> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ConfigError(file, '$', 'expected an object of numbers', 'restore the Galvatron file');
  const out: Record<string, number> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    if (typeof x !== 'number' || !Number.isFinite(x)) throw new ConfigError(file, `$.${k}`, `expected a number, got ${JSON.stringify(x)}`, 'restore the Galvatron file');
    out[k] = x;
  }
  return out;
}

function objectOf(file: string, v: unknown): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ConfigError(file, '$', 'expected a JSON object', 'restore the Galvatron file');
  return v as Record<string, unknown>;
}

function walk(dir: string, out: string[]): void {
  for (const name of readdirSync(dir).sort()) {
    const p = path.join(dir, name);
    const st = statSync(p);
    if (st.isDirectory()) walk(p, out);
    else if (name.endsWith('.json')) out.push(p);
  }
}

export function scanGalvatron(root: string): GalvatronScan {
  let st;
  try {
    st = statSync(root);
  } catch {
    throw new UniapError('FILE_NOT_FOUND', `Galvatron directory ${root} not found; give the folder holding its profile JSON files`, { path: root });
  }
  if (!st.isDirectory()) throw new UniapError('CONFIG_INVALID', `${root} is not a directory; give the folder holding Galvatron's profile JSON files`, { path: root });
  const files: string[] = [];
  walk(root, files);

  const hw = new Map<string, HardwareFiles>();
  const overlapFiles: { file: string; coefficient: number }[] = [];
  const comps = new Map<string, { dir: string; dtype: ModelDataset['dtype']; tag: string; file: string }>();
  const mems = new Map<string, { file: string; sp: boolean }[]>();
  for (const file of files) {
    const base = path.basename(file);
    const dir = path.dirname(file);
    let m: RegExpExecArray | null;
    if ((m = HW_RE.exec(base))) {
      const key = `${m[2]}x${m[3]}`;
      const h = hw.get(key) ?? { nodes: Number(m[2]), devicesPerNode: Number(m[3]) };
      const data = numberMap(file, readJsonFile(file));
      if (m[1] === 'allreduce_bandwidth') h.allreduce ??= { file, data };
      else if (m[1] === 'p2p_bandwidth') h.p2p ??= { file, data };
      else h.spTime ??= { file, data };
      hw.set(key, h);
    } else if (base === 'overlap_coefficient.json') {
      const data = numberMap(file, readJsonFile(file));
      const c = data.overlap_coe;
      if (c !== undefined) overlapFiles.push({ file, coefficient: c });
    } else if ((m = COMP_RE.exec(base))) {
      comps.set(`${dir}|${m[1]}_${m[2]}`, { dir, dtype: m[1] as ModelDataset['dtype'], tag: m[2]!, file });
    } else if ((m = MEM_RE.exec(base))) {
      const key = `${dir}|${m[1]}_${m[2]}`;
      const list = mems.get(key) ?? [];
      list.push({ file, sp: m[3] === '_sp' });
      mems.set(key, list);
    }
  }
  // Attach each overlap coefficient to the hardware shapes read from its folder.
  for (const h of hw.values()) {
    const dir = path.dirname((h.allreduce ?? h.p2p ?? h.spTime)!.file);
    const o = overlapFiles.find((f) => path.dirname(f.file) === dir);
    if (o) h.overlap = o;
  }

  const datasets: ModelDataset[] = [];
  const keys = new Set([...comps.keys(), ...mems.keys()]);
  for (const key of [...keys].sort()) {
    const [dir, dt] = key.split('|') as [string, string];
    const comp = comps.get(key);
    const memList = mems.get(key) ?? [];
    const mem = memList.find((x) => !x.sp) ?? memList.find((x) => x.sp);
    const dtype = dt.slice(0, 4) as ModelDataset['dtype'];
    const tag = dt.slice(5);
    // The folder relative to the root, without Galvatron's trailing "configs" level.
    const relDir = path.basename(dir) === 'configs' ? path.dirname(dir) : dir;
    const rel = path.relative(root, relDir) || '.';
    const metaDir = path.join(path.dirname(dir), 'meta_configs');
    const ds: ModelDataset = { name: `${rel}/${dt}`, dtype, tag };
    if (comp) ds.computation = { file: comp.file, data: objectOf(comp.file, readJsonFile(comp.file)) };
    if (mem) ds.memory = { file: mem.file, data: objectOf(mem.file, readJsonFile(mem.file)), sequenceParallel: mem.sp };
    if (safeIsDir(metaDir)) ds.metaDir = metaDir;
    datasets.push(ds);
  }
  return { root, hardware: [...hw.values()].sort((a, b) => a.nodes * a.devicesPerNode - b.nodes * b.devicesPerNode), overlapFiles, datasets };
}

function safeIsDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

// ---- computation profiling keys ----

/** A sequence length as written in keys: "4096" or "[512,512]" (encoder, decoder). */
export type SeqKey = string;

export interface ComputationTables {
  /** layer type index -> seq -> bsz (0 = any) -> forward ms per sample per layer. */
  perLayer: Map<number, Map<SeqKey, Map<number, number>>>;
  /** seq -> bsz (0 = any) -> forward ms per sample of embedding + head ("other"). */
  other: Map<SeqKey, Map<number, number>>;
  /** Raw whole-model runs: layer counts per type, bsz, seq -> total forward ms. */
  raw: { layers: number[]; bsz: number; seq: SeqKey; ms: number }[];
  /** Sequence lengths that appear anywhere (keys or the tag). */
  seqs: Set<SeqKey>;
  unknownKeys: string[];
}

const LAYERTYPE_RE = /^layertype_(\d+)(?:_bsz(\d+))?(?:_seq(\[[\d,]+\]|\d+))?$/;
const OTHER_RE = /^layertype_other(?:_\d+)?(?:_bsz(\d+))?(?:_seq(\[[\d,]+\]|\d+))?$/;
const RAW_RE = /^layernum\[([\d,]+)\]_bsz(\d+)(?:_seq(\[[\d,]+\]|\d+))?$/;

/** Sequence length named in a tag ("..._seqlen2048"), else undefined. */
export function tagSeq(tag: string): SeqKey | undefined {
  const m = /seqlen(\d+)/.exec(tag);
  return m ? m[1] : undefined;
}

export function readComputation(file: string, data: Record<string, unknown>, tag: string): ComputationTables {
  const defaultSeq = tagSeq(tag) ?? '';
  const t: ComputationTables = { perLayer: new Map(), other: new Map(), raw: [], seqs: new Set(), unknownKeys: [] };
  if (defaultSeq) t.seqs.add(defaultSeq);
  const put = (m: Map<SeqKey, Map<number, number>>, seq: SeqKey, bsz: number, v: number) => {
    const bySeq = m.get(seq) ?? new Map<number, number>();
    bySeq.set(bsz, v);
    m.set(seq, bySeq);
  };
  for (const [key, v] of Object.entries(data)) {
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new ConfigError(file, `$.${key}`, `expected a number, got ${JSON.stringify(v)}`, 'restore the Galvatron file');
    let m: RegExpExecArray | null;
    if ((m = LAYERTYPE_RE.exec(key))) {
      const i = Number(m[1]);
      const seq = m[3] ?? defaultSeq;
      t.seqs.add(seq);
      const byType = t.perLayer.get(i) ?? new Map();
      put(byType, seq, m[2] ? Number(m[2]) : 0, v);
      t.perLayer.set(i, byType);
    } else if ((m = OTHER_RE.exec(key))) {
      const seq = m[2] ?? defaultSeq;
      t.seqs.add(seq);
      put(t.other, seq, m[1] ? Number(m[1]) : 0, v);
    } else if ((m = RAW_RE.exec(key))) {
      const seq = m[3] ?? defaultSeq;
      t.seqs.add(seq);
      t.raw.push({ layers: m[1]!.split(',').map(Number), bsz: Number(m[2]), seq, ms: v });
    } else t.unknownKeys.push(key);
  }
  t.seqs.delete('');
  return t;
}

// ---- memory profiling keys ----

export interface LayerMemory {
  /** Galvatron's parameter_size: one layer's parameters as fp32 bytes, in MiB. */
  parameterMiB: number;
  /** TP degree -> activation MiB per sample (checkpoint excluded). */
  activationMiBPerSample: Map<number, number>;
}

export interface OtherMemory {
  /** TP degree -> activation MiB per sample (0 = not split by tp: the same value for every tp). */
  activationMiBPerSample: Map<number, number>;
}

export interface MemoryTables {
  layers: Map<number, Map<SeqKey, LayerMemory>>;
  /** 'first' (embedding stage), 'last' (head stage), 'off' (no pipeline: both). */
  other: Map<'first' | 'last' | 'off', Map<SeqKey, OtherMemory>>;
  sequenceParallel: boolean;
}

const MEM_LAYER_RE = /^layertype_(\d+)(_sp)?$/;
const MEM_OTHER_RE = /^other_memory_pp_(off|on_first|on_last)(_sp)?$/;

/** Entries keyed by sequence length ("4096", "[512,512]"), or a single un-nested entry (key ''). */
function bySeq(v: unknown): [SeqKey, Record<string, unknown>][] {
  const o = v as Record<string, unknown>;
  if ('parameter_size' in o || 'tp_activation_per_bsz_dict' in o || 'activation' in o || 'model_states' in o) return [['', o]];
  return Object.entries(o).map(([k, x]) => [k, x as Record<string, unknown>]);
}

function tpMap(v: unknown): Map<number, number> {
  const out = new Map<number, number>();
  if (typeof v === 'number') {
    out.set(0, v);
    return out;
  }
  for (const [k, x] of Object.entries((v ?? {}) as Record<string, unknown>)) {
    if (/^\d+$/.test(k) && typeof x === 'number') out.set(Number(k), x);
  }
  return out;
}

/**
 * The processed part of a memory file (layertype_i, other_memory_pp_*). Plain keys are preferred
 * over `_sp` (sequence-parallel) ones; raw run keys ("1_2_4", ...) are ignored.
 */
export function readMemory(file: string, data: Record<string, unknown>, fileIsSp: boolean): MemoryTables {
  const layers = new Map<number, Map<SeqKey, LayerMemory>>();
  const other = new Map<'first' | 'last' | 'off', Map<SeqKey, OtherMemory>>();
  const plain = Object.keys(data).some((k) => MEM_LAYER_RE.exec(k) && !k.endsWith('_sp'));
  const useSp = !plain;
  for (const [key, v] of Object.entries(data)) {
    let m: RegExpExecArray | null;
    if ((m = MEM_LAYER_RE.exec(key))) {
      if (Boolean(m[2]) !== useSp) continue;
      const i = Number(m[1]);
      const map = new Map<SeqKey, LayerMemory>();
      for (const [seq, e] of bySeq(v)) {
        const p = e.parameter_size;
        if (typeof p !== 'number') throw new ConfigError(file, `$.${key}`, 'missing parameter_size', 'restore the Galvatron file');
        map.set(seq, { parameterMiB: p, activationMiBPerSample: tpMap(e.tp_activation_per_bsz_dict) });
      }
      layers.set(i, map);
    } else if ((m = MEM_OTHER_RE.exec(key))) {
      if (Boolean(m[2]) !== useSp) continue;
      const which = m[1] === 'off' ? 'off' : m[1] === 'on_first' ? 'first' : 'last';
      const map = new Map<SeqKey, OtherMemory>();
      for (const [seq, e] of bySeq(v)) map.set(seq, { activationMiBPerSample: tpMap(e.activation) });
      other.set(which, map);
    }
  }
  return { layers, other, sequenceParallel: fileIsSp || useSp };
}
