// Built-in clusters and how `--cluster` is read: a preset name (configs/clusters/<name>.json),
// `local-cpu` / `local-cpu:N` (N Gloo processes on this machine, numbers from the OS), or a path
// to a ClusterConfig JSON file. Also the cluster's fingerprint for plans and the preset listing.
import { fingerprint } from '../common/canonical-json.ts';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { type ClusterConfig, type ClusterSpec, type LinkSpec, totalDevices } from './cluster-spec.ts';
import { resolveCluster } from './cluster-resolve.ts';
import { parseJsonText } from '../common/json-file.ts';
import { UniapError } from '../common/errors.ts';

const PRESET_DIR = fileURLToPath(new URL('./clusters/', import.meta.url));
export const LOCAL_CPU = 'local-cpu';
/** Processes of `local-cpu` without `:N`. */
export const LOCAL_CPU_DEFAULT_PROCESSES = 2;

/**
 * Peak FP32 per logical CPU, GFLOPS: an AVX2 core retires 2 FMA x 8 fp32 lanes x 2 FLOP = 32 FLOP
 * per cycle; at ~2 GHz sustained that is 64 GFLOPS per physical core, shared by its 2 hyperthreads.
 * os.cpus() counts logical CPUs. (AVX-512 machines have twice this; the estimate stays conservative.)
 */
export const CPU_GFLOPS32_PER_LOGICAL_CPU = 32;
/**
 * Memory bandwidth per logical CPU, GB/s: STREAM triad on loaded multi-core servers gives ~3-8 GB/s
 * per core (e.g. 8 DDR4-3200 channels, ~200 GB/s, shared by 32-64 cores); 5 is the middle.
 */
export const CPU_MEMORY_GBPS_PER_LOGICAL_CPU = 5;
/**
 * Gloo between processes of one machine goes through loopback TCP: ~2 GB/s per process per
 * direction is a conservative estimate (@grpc/grpc-js 1.14 measured 0.2-0.4 GB/s per stream on
 * loopback; Gloo's raw TCP pairs are several times faster). Latency: a loopback round trip, ~20 µs.
 */
export const LOCAL_CPU_LINK: LinkSpec = { kind: 'shared-memory', bandwidthGBps: 2, latencyUs: 20 };

/** Names of the JSON presets in configs/clusters/ plus `local-cpu`. */
export function clusterPresetNames(): string[] {
  const files = readdirSync(PRESET_DIR)
    .filter((f) => f.endsWith('.json'))
    .map((f) => f.slice(0, -'.json'.length))
    .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  return [...files, LOCAL_CPU];
}

/** Resolve `--cluster`: preset name, `local-cpu[:N]`, or a path to a ClusterConfig JSON file. */
export function loadCluster(nameOrPath: string): ClusterSpec {
  const local = /^local-cpu(?::(.*))?$/.exec(nameOrPath);
  if (local) return localCpuCluster(parseProcessCount(nameOrPath, local[1]));

  const presetFile = `${PRESET_DIR}${nameOrPath}.json`;
  if (/^[\w.-]+$/.test(nameOrPath) && existsSync(presetFile)) {
    return resolveCluster(readJson(presetFile, `configs/clusters/${nameOrPath}.json`), nameOrPath);
  }
  const looksLikePath = nameOrPath.includes('/') || nameOrPath.includes('\\') || nameOrPath.endsWith('.json');
  if (looksLikePath || existsSync(nameOrPath)) {
    if (!existsSync(nameOrPath)) {
      throw new UniapError(
        'FILE_NOT_FOUND',
        `cluster file ${nameOrPath} not found; check the path, or use a preset (${clusterPresetNames().join(', ')})`,
        { path: nameOrPath },
      );
    }
    if (!statSync(nameOrPath).isFile()) {
      throw new UniapError('FILE_NOT_FOUND', `"${nameOrPath}" is a directory, not a cluster file; give the path of a cluster JSON`, { path: nameOrPath });
    }
    return resolveCluster(readJson(nameOrPath, nameOrPath), nameOrPath);
  }
  throw new UniapError(
    'UNKNOWN_PRESET',
    `unknown cluster preset "${nameOrPath}"; use one of: ${clusterPresetNames().join(', ')} (or local-cpu:N), or a path to a cluster JSON file`,
    { name: nameOrPath, presets: clusterPresetNames() },
  );
}

function parseProcessCount(spec: string, n: string | undefined): number {
  if (n === undefined) return LOCAL_CPU_DEFAULT_PROCESSES;
  if (!/^\d+$/.test(n) || Number(n) < 1) {
    throw new UniapError('UNKNOWN_PRESET', `"${spec}": the process count must be a whole number >= 1; write e.g. local-cpu:4`, { name: spec });
  }
  return Number(n);
}

/**
 * N training processes on this machine, one "device" each: memory = total RAM / N; peak FP32 and
 * memory bandwidth = this machine's logical CPUs / N times the per-CPU figures above; Gloo.
 */
export function localCpuCluster(processes: number = LOCAL_CPU_DEFAULT_PROCESSES): ClusterSpec {
  const cpus = Math.max(1, os.cpus().length);
  const share = cpus / processes;
  const config: ClusterConfig = {
    schemaVersion: 1,
    name: processes === LOCAL_CPU_DEFAULT_PROCESSES ? LOCAL_CPU : `${LOCAL_CPU}:${processes}`,
    description: `${processes} processes on this machine (${cpus} logical CPUs, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB)`,
    deviceTypes: {
      cpu: {
        kind: 'cpu',
        memoryGiB: os.totalmem() / processes / 2 ** 30,
        peakTflops16: 0,
        peakTflops32: (share * CPU_GFLOPS32_PER_LOGICAL_CPU) / 1000,
        memoryBandwidthGBps: share * CPU_MEMORY_GBPS_PER_LOGICAL_CPU,
      },
    },
    nodes: [{ deviceType: 'cpu', devices: processes, intraNodeLink: { ...LOCAL_CPU_LINK } }],
    backend: 'gloo',
  };
  return resolveCluster(config, config.name);
}

function readJson(path: string, shownAs: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new UniapError('FILE_NOT_FOUND', `cannot read cluster file ${shownAs} (${(e as NodeJS.ErrnoException).code ?? 'error'}); give a path to a JSON file`, { path });
  }
  return parseJsonText(text, shownAs);
}

/**
 * Identity of the hardware: sha256 of the canonical JSON (sorted keys) of the spec without `name`
 * and `source`, so the same cluster given as a preset or as a copied file has one fingerprint.
 * First 16 hex digits.
 */
export function clusterFingerprint(c: ClusterSpec): string {
  const { name: _name, source: _source, ...hardware } = c;
  return fingerprint(hardware);
}


export interface ClusterPresetSummary {
  name: string;
  description: string;
  nodes: number;
  devicesPerNode: number;
  devices: number;
  device: string;
  memoryGiB: number;
  /** 16-bit tensor peak where the device has one, else FP32 (TFLOPS per device). */
  peakTflops: number;
  peakPrecision: '16-bit' | 'fp32';
  /** Per device, per direction. */
  intraNodeLink: LinkSpec;
  /** Per node, per direction; null for one node. */
  interNodeLink: LinkSpec | null;
}

/** One line of facts per built-in preset (for `uniap clusters`). */
export function listClusterPresets(): ClusterPresetSummary[] {
  return clusterPresetNames().map((name) => {
    const c = loadCluster(name);
    const description =
      name === LOCAL_CPU ? `${LOCAL_CPU_DEFAULT_PROCESSES} Gloo processes on this machine; local-cpu:N for N` : presetDescription(name);
    return summarizeCluster(c, description);
  });
}

export function summarizeCluster(c: ClusterSpec, description = ''): ClusterPresetSummary {
  const first = c.nodes[0]!; // resolveCluster guarantees at least one node
  const dev = first.deviceType;
  return {
    name: c.name,
    description,
    nodes: c.nodes.length,
    devicesPerNode: first.devices,
    devices: totalDevices(c),
    device: dev.name,
    memoryGiB: dev.memoryBytes / 2 ** 30,
    peakTflops: dev.peakTflops16 > 0 ? dev.peakTflops16 : dev.peakTflops32,
    peakPrecision: dev.peakTflops16 > 0 ? '16-bit' : 'fp32',
    intraNodeLink: first.intraNodeLink,
    interNodeLink: c.interNodeLink,
  };
}

/** "nvswitch 450 GB/s per device per direction, 1.9 µs" */
export function describeLink(l: LinkSpec, per: 'per device' | 'per node'): string {
  return `${l.kind} ${l.bandwidthGBps} GB/s ${per} per direction, ${l.latencyUs} µs`;
}

function presetDescription(name: string): string {
  const raw = JSON.parse(readFileSync(`${PRESET_DIR}${name}.json`, 'utf8')) as { description?: unknown };
  return typeof raw.description === 'string' ? raw.description : '';
}
