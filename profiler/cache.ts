// The measurement cache of `uniap profile`: raw measurements (not fits) keyed by the environment
// that produced them (device type, driver and library versions, process count, the code that
// measured) and, inside it, by what was measured (layer shape + dtype + micro-batch + tp; collective
// + group + message size). A second run, or another model sharing a layer shape, measures only
// what is missing.
//
// Layout: <root>/profile-v1/<environment key>/environment.json (what the key stands for, for humans)
//         <root>/profile-v1/<environment key>/measurements.jsonl (one record per line, appended as
//         each measurement finishes, so Ctrl-C leaves every finished one usable; a torn last line is
//         ignored on reading).
// Root: --cache-dir, else $UNIAP_CACHE_DIR, else $XDG_CACHE_HOME/uniap, else ~/.cache/uniap.
import { fingerprint } from '../common/canonical-json.ts';
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const CACHE_LAYOUT_VERSION = 'profile-v1';

/** Everything about the machine and software that changes a measurement. */
export interface CacheEnvironment {
  /** Hardware as the measuring process sees it: GPU name, or "cpu:<model name>". */
  hardware: string;
  kind: 'gpu' | 'cpu';
  backend: 'nccl' | 'gloo';
  python: string;
  torch: string;
  cuda: string;
  nccl: string;
  driver: string;
  blas: string;
  /** Measuring processes running at once (CPU ranks compete for cores; groups run concurrently). */
  processes: number;
  /** torch threads per process (CPU), 0 on GPUs. */
  threadsPerProcess: number;
  /** Hash of the measuring scripts and of the executor's layer code (measurementCodeHash, profiler/measure/python.ts). */
  code: string;
  /** Warm-up and repetition counts: measurements taken with fewer repetitions are not reused. */
  method: string;
}

export interface LayerKey {
  shapeKey: string;
  /** Build options that change the layer's work beyond its shape (e.g. 'pos=rope'); '' when none. */
  variant: string;
  dtype: string;
  microBatch: number;
  tp: number;
}

/** One layer measurement as stored: medians over repetitions of the slowest rank, per device. */
export interface LayerMeasurement {
  forwardMs: number;
  backwardMs: number;
  spread: number;
  activationBytes: number;
  workingSetBytes: number;
  parameterBytes: number;
  memoryMethod: string;
  repetitions: number;
}

export interface LinkKey {
  collective: string;
  groupSize: number;
  nodes: number;
  bytes: number;
}

export interface LinkMeasurement {
  /** Median time of one call of the slowest rank, ms. */
  timeMs: number;
  spread: number;
  repetitions: number;
  /** Gloo reduce-scatter: timed as all-reduce + slice. */
  emulated: boolean;
}

export interface OverlapMeasurement {
  slowdown: number;
  computeAloneMs: number;
  commAloneMs: number;
  computeOverlappedMs: number;
}

export interface DeviceMeasurement {
  /** Bytes held outside the training job's tensors (CUDA context + NCCL; CPU: the process's baseline RSS). */
  reservedBytes: number;
  /** Device capacity as the process sees it (GPU total memory; 0 on CPU: use the cluster spec). */
  capacityBytes: number;
}

type RecordKind = 'layer' | 'link' | 'overlap' | 'device';
interface CacheRecord {
  kind: RecordKind;
  key: string;
  value: unknown;
  date: string;
}

export function defaultCacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.UNIAP_CACHE_DIR) return env.UNIAP_CACHE_DIR;
  const xdg = env.XDG_CACHE_HOME;
  return path.join(xdg && xdg.length > 0 ? xdg : path.join(os.homedir(), '.cache'), 'uniap');
}

/** First 16 hex digits of sha256 over the canonical JSON (sorted keys). */
export function environmentKey(env: CacheEnvironment): string {
  return fingerprint(env);
}

export function layerKeyString(k: LayerKey): string {
  return `${k.shapeKey}|${k.variant}|${k.dtype}|mb${k.microBatch}|tp${k.tp}`;
}

export function linkKeyString(k: LinkKey): string {
  return `${k.collective}|g${k.groupSize}|n${k.nodes}|${k.bytes}B`;
}

export class MeasurementCache {
  readonly dir: string;
  readonly file: string;
  private readonly records = new Map<string, CacheRecord>();
  /** Records appended by this process (the rest came from disk). */
  written = 0;
  /** The file ends inside a torn line: the next append starts a new line first. */
  private torn = false;

  constructor(
    readonly root: string,
    readonly env: CacheEnvironment,
  ) {
    this.dir = path.join(root, CACHE_LAYOUT_VERSION, environmentKey(env));
    this.file = path.join(this.dir, 'measurements.jsonl');
    if (existsSync(this.file)) this.load();
  }

  private load(): void {
    const text = readFileSync(this.file, 'utf8');
    this.torn = text.length > 0 && !text.endsWith('\n');
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      try {
        const r = JSON.parse(line) as CacheRecord;
        if (r && typeof r.key === 'string' && typeof r.kind === 'string') this.records.set(`${r.kind}:${r.key}`, r);
      } catch {
        // A line torn by an interrupted write: that one measurement is simply missing.
      }
    }
  }

  get size(): number {
    return this.records.size;
  }

  getLayer(k: LayerKey): LayerMeasurement | undefined {
    return this.get('layer', layerKeyString(k)) as LayerMeasurement | undefined;
  }
  putLayer(k: LayerKey, m: LayerMeasurement): void {
    this.put('layer', layerKeyString(k), m);
  }
  getLink(k: LinkKey): LinkMeasurement | undefined {
    return this.get('link', linkKeyString(k)) as LinkMeasurement | undefined;
  }
  putLink(k: LinkKey, m: LinkMeasurement): void {
    this.put('link', linkKeyString(k), m);
  }
  getOverlap(): OverlapMeasurement | undefined {
    return this.get('overlap', 'overlap') as OverlapMeasurement | undefined;
  }
  putOverlap(m: OverlapMeasurement): void {
    this.put('overlap', 'overlap', m);
  }
  getDevice(): DeviceMeasurement | undefined {
    return this.get('device', 'device') as DeviceMeasurement | undefined;
  }
  putDevice(m: DeviceMeasurement): void {
    this.put('device', 'device', m);
  }

  private get(kind: RecordKind, key: string): unknown {
    return this.records.get(`${kind}:${key}`)?.value;
  }

  private put(kind: RecordKind, key: string, value: unknown): void {
    const rec: CacheRecord = { kind, key, value, date: new Date().toISOString() };
    if (!existsSync(this.dir)) {
      mkdirSync(this.dir, { recursive: true });
      writeFileSync(path.join(this.dir, 'environment.json'), JSON.stringify(this.env, null, 2) + '\n');
    }
    // One line per record in a single write: an interrupt tears at most this line.
    appendFileSync(this.file, (this.torn ? '\n' : '') + JSON.stringify(rec) + '\n');
    this.torn = false;
    this.records.set(`${kind}:${key}`, rec);
    this.written++;
  }
}

