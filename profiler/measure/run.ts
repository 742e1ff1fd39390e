// `uniap profile`'s engine: probe Python, plan what to measure, take what the cache has, launch one
// measuring process per device for the rest (caching each result as it arrives), then assemble the
// Profile: medians per layer shape, fits per collective, flags, and provenance that says how.
import os from 'node:os';
import type { ClusterSpec } from '../../configs/cluster-spec.ts';
import { MEMORY_EFFICIENCY } from '../spec-profile.ts';
import { UniapError } from '../../common/errors.ts';
import { dtypeBytes } from '../../configs/model-derive.ts';
import type { DType, ModelSpec } from '../../configs/model-spec.ts';
import { type CacheEnvironment, defaultCacheRoot, type LayerMeasurement, MeasurementCache } from '../cache.ts';
import { COLLECTIVES, type LayerProfileEntry, type LinkProfileEntry, type Profile, PROFILE_SCHEMA_VERSION } from '../profile.ts';
import { groupShapes, interNodeBusEfficiency, intraNodeBusEfficiency, linkEntry } from '../spec-profile.ts';
import { runWorkers, type WorkerEvent, type WorkerJob } from './driver.ts';
import { extendSeries, fitLink, flagSeries, summarizeLayer, summarizeLink, summarizeOverlap } from './fit.ts';
import { ProgressTracker, type ProgressSink, fmtDuration } from './progress.ts';
import { choosePython } from '../../common/python.ts';
import { LAYERS_PY_DIR, layersFile, measurementCodeHash, probePythonCached, type PythonInfo } from './python.ts';
import {
  FULL_MAX_MESSAGE_BYTES,
  fmtSize,
  layerKeyOf,
  linkKeyOf,
  type LayerTask,
  type MeasurePlan,
  type MeasureTask,
  planMeasurements,
  QUICK_MAX_MESSAGE_BYTES,
} from './tasks.ts';

export interface MeasureOptions {
  model: ModelSpec;
  cluster: ClusterSpec;
  /** Per-device micro-batch sizes to measure (default [1, 2, 4]). */
  microBatches?: number[];
  /** TP degrees (default: every divisor of the devices measured on this node). */
  tpDegrees?: number[];
  /** Dtype layers are built in (default: the model's on GPUs; fp32 on CPUs, see resolveDtype). */
  dtype?: DType;
  /** Cache root (default: $UNIAP_CACHE_DIR, $XDG_CACHE_HOME/uniap or ~/.cache/uniap). */
  cacheDir?: string;
  /** Python interpreter (default: $UNIAP_PYTHON, else /usr/bin/python3). */
  python?: string;
  /** Quick mode: messages up to 4 MiB, 1 warm-up, 3 repetitions (tests, CPU). */
  quick?: boolean;
  /** Largest message of the link benchmarks (default 256 MiB; quick 4 MiB). */
  maxMessageBytes?: number;
  warmup?: number;
  reps?: number;
  /** Fitted entries are added at powers of two up to this micro-batch (default 4 x the largest measured; 0: none). */
  fitUpTo?: number;
  /** Skip link and overlap benchmarks (layers only). */
  skipLinks?: boolean;
  /** Where the progress bar goes (default: none). */
  progress?: ProgressSink;
  /** Ctrl-C: stops the measuring processes; finished measurements stay in the cache. */
  signal?: AbortSignal;
  /** Called after each new measurement is cached (task id, measured so far in this run, tasks to measure). */
  onMeasured?: (taskId: string, measured: number, toMeasure: number) => void;
  layersDir?: string;
}

export interface MeasureStats {
  /** Tasks the profile needs. */
  tasks: number;
  /** Tasks measured in this run. */
  measured: number;
  /** Tasks answered by the cache. */
  fromCache: number;
  /** Tasks that failed with out-of-memory (left out of the profile). */
  outOfMemory: string[];
  interrupted: boolean;
  cacheDir: string;
  wallMs: number;
  processes: number;
}

export interface MeasureResult {
  /** Undefined when interrupted (the cache keeps what finished). */
  profile: Profile | undefined;
  stats: MeasureStats;
}

/**
 * The dtype layers are measured in. GPUs: the model's. CPUs: fp32 when the model is 16-bit — CPU
 * kernels for bf16/fp16 in the torch builds we run on (1.13, Debian) are ~15x slower than fp32
 * (measured here: a 256x1024 linear, 8x128 tokens: 61 ms fp32, 925 ms bf16), and a CPU executor
 * trains in fp32; the byte counts are then rescaled to the model's dtype (see assemble()).
 */
export function resolveDtype(model: ModelSpec, kind: 'gpu' | 'cpu', explicit?: DType): DType {
  if (explicit) return explicit;
  return kind === 'cpu' ? 'fp32' : model.dtype;
}

interface Placement {
  kind: 'gpu' | 'cpu';
  backend: 'nccl' | 'gloo';
  processes: number;
  threads: number;
  notes: string[];
}

function place(cluster: ClusterSpec, info: PythonInfo): Placement {
  const node = cluster.nodes[0]!;
  const kind = node.deviceType.kind;
  const notes: string[] = [];
  if (cluster.nodes.some((n) => n.devices !== node.devices || n.deviceType.name !== node.deviceType.name)) {
    throw new UniapError('UNSUPPORTED', `cluster ${cluster.name} mixes node shapes; profile each homogeneous part as its own cluster`);
  }
  if (kind === 'gpu') {
    if (info.cudaDevices === 0) {
      throw new UniapError(
        'UNSUPPORTED',
        `cluster ${cluster.name} has ${node.deviceType.name} GPUs but torch on this machine (${info.interpreter}, torch ${info.torch}) sees no CUDA device; run uniap profile on a node of that cluster, or profile local CPU processes with --cluster local-cpu:N`,
      );
    }
    const processes = Math.min(node.devices, info.cudaDevices);
    if (processes < node.devices) notes.push(`${info.cudaDevices} GPU(s) visible of the ${node.devices} per node in ${cluster.name}: groups larger than ${processes} are derived from the cluster spec`);
    return { kind, backend: info.ncclAvailable ? 'nccl' : 'gloo', processes, threads: Math.max(1, Math.floor(info.cpuCount / processes)), notes };
  }
  const processes = node.devices;
  return { kind, backend: 'gloo', processes, threads: Math.max(1, Math.floor(info.cpuCount / processes)), notes };
}

export async function measureProfile(o: MeasureOptions): Promise<MeasureResult> {
  const t0 = Date.now();
  const python = choosePython(o.python);
  const cacheRoot = o.cacheDir ?? defaultCacheRoot();
  const info = probePythonCached(python, cacheRoot);
  const placement = place(o.cluster, info);
  const layersDir = o.layersDir ?? LAYERS_PY_DIR;
  const dtype = resolveDtype(o.model, placement.kind, o.dtype);
  const quick = o.quick ?? false;
  const warmup = o.warmup ?? (quick ? 1 : 3);
  const reps = o.reps ?? (quick ? 3 : 10);
  const env: CacheEnvironment = {
    hardware: placement.kind === 'gpu' ? info.gpuName : `cpu:${info.cpuModel}`,
    kind: placement.kind,
    backend: placement.backend,
    python: info.python,
    torch: info.torch,
    cuda: info.cuda,
    nccl: info.nccl,
    driver: info.driver,
    blas: info.blas,
    processes: placement.processes,
    threadsPerProcess: placement.kind === 'cpu' ? placement.threads : 0,
    code: measurementCodeHash(layersDir),
    // A quick 3-repetition measurement must not stand in for a full one.
    method: `warmup${warmup}-reps${reps}`,
  };
  const cache = new MeasurementCache(cacheRoot, env);
  const plan = planMeasurements(
    o.model,
    o.cluster,
    {
      microBatches: o.microBatches ?? [1, 2, 4],
      ...(o.tpDegrees ? { tpDegrees: o.tpDegrees } : {}),
      dtype,
      processes: placement.processes,
      maxMessageBytes: o.maxMessageBytes ?? (quick ? QUICK_MAX_MESSAGE_BYTES : FULL_MAX_MESSAGE_BYTES),
      warmup,
      reps,
      ...(o.skipLinks ? { skipLinks: true } : {}),
    },
    cache,
  );
  const stats: MeasureStats = {
    tasks: plan.all.length,
    measured: 0,
    fromCache: plan.all.length - plan.todo.length,
    outOfMemory: [],
    interrupted: false,
    cacheDir: cache.dir,
    wallMs: 0,
    processes: placement.processes,
  };
  if (plan.todo.some((t) => t.kind === 'layer')) layersFile(layersDir);

  const progress = new ProgressTracker(plan.todo, o.progress);
  let todo: MeasureTask[] = plan.todo;
  // Run until every task is measured; an out-of-memory layer is dropped (with the larger
  // micro-batches of its shape and tp) and the processes restart on what is left.
  while (todo.length > 0 || !cache.getDevice()) {
    const byId = new Map(todo.map((t) => [t.id, t]));
    const finished = new Set<string>();
    const job: WorkerJob = { backend: placement.backend, device: placement.kind === 'gpu' ? 'cuda' : 'cpu', threads: placement.threads, tasks: todo };
    const outcome = await runWorkers(job, {
      python,
      processes: placement.processes,
      layersDir,
      ...(o.signal ? { signal: o.signal } : {}),
      onEvent: (e: WorkerEvent) => {
        if (e.event === 'start') progress.start(e.id);
        else if (e.event === 'result') {
          const t = byId.get(e.id);
          if (!t) return;
          record(cache, t, e.perRank);
          finished.add(e.id);
          stats.measured++;
          progress.finish(e.id);
          o.onMeasured?.(e.id, stats.measured, plan.todo.length);
        } else if (e.event === 'done' && e.perRank) {
          const ranks = e.perRank as { reservedBytes: number; capacityBytes: number }[];
          cache.putDevice({
            reservedBytes: Math.max(...ranks.map((r) => r.reservedBytes)),
            capacityBytes: Math.min(...ranks.map((r) => r.capacityBytes)),
          });
        }
      },
    });
    if (outcome.status === 'done') break;
    // Ctrl-C in a terminal reaches the Python processes too; they may die before our handler runs.
    if (outcome.status === 'failed' && o.signal && !o.signal.aborted) await new Promise((r) => setTimeout(r, 300));
    if (outcome.status === 'aborted' || o.signal?.aborted) {
      stats.interrupted = true;
      stats.wallMs = Date.now() - t0;
      progress.end(`interrupted: ${stats.measured} new measurement(s) kept in ${cache.dir}; run the same command again to continue`);
      return { profile: undefined, stats };
    }
    const failed = outcome.taskId ? byId.get(outcome.taskId) : undefined;
    if (outcome.oom && failed && failed.kind === 'layer') {
      stats.outOfMemory.push(failed.id);
      todo = todo.filter(
        (t) =>
          !finished.has(t.id) &&
          t.id !== failed.id &&
          !(t.kind === 'layer' && t.shapeKey === failed.shapeKey && t.tp === failed.tp && t.microBatch >= failed.microBatch),
      );
      continue;
    }
    const where = failed ? `while measuring ${failed.id}` : 'while starting';
    throw new UniapError(
      'RUNTIME_FAILED',
      `a measuring process failed ${where}${outcome.rank !== undefined ? ` (rank ${outcome.rank})` : ''}: ${outcome.message}` +
        `${outcome.stderrTail ? `\n${outcome.stderrTail}` : ''}\nfinished measurements are cached in ${cache.dir}; fix the cause and rerun`,
      { task: outcome.taskId, rank: outcome.rank },
    );
  }
  stats.wallMs = Date.now() - t0;
  const profile = assemble(o, plan, cache, info, placement, dtype, stats);
  progress.end(
    `profiled ${o.model.name} on ${o.cluster.name}: ${stats.measured} measured, ${stats.fromCache} from cache, ${fmtDuration(stats.wallMs)}`,
  );
  return { profile, stats };
}

function record(cache: MeasurementCache, t: MeasureTask, perRank: unknown[]): void {
  switch (t.kind) {
    case 'layer':
      cache.putLayer(layerKeyOf(t), summarizeLayer(perRank));
      return;
    case 'link':
      cache.putLink(linkKeyOf(t), summarizeLink(perRank));
      return;
    case 'overlap':
      cache.putOverlap(summarizeOverlap(perRank));
      return;
  }
}

// ---- Profile assembly ----

function assemble(
  o: MeasureOptions,
  plan: MeasurePlan,
  cache: MeasurementCache,
  info: PythonInfo,
  placement: Placement,
  dtype: DType,
  stats: MeasureStats,
): Profile {
  const node = o.cluster.nodes[0]!;
  const notes: string[] = [...placement.notes];
  notes.push(
    `layers built by the executor's own code (python/uniap_torch/layers.py), measured per distinct shape; ` +
      `tensor-parallel collectives are inside forwardMs/backwardMs (tpCommunication: included); ` +
      `times are the median of the slowest rank; ${placement.processes} process(es) ran at once`,
  );
  if (plan.skippedTp.length > 0) {
    notes.push(`tp ${plan.skippedTp.join(', ')} not measured: a TP group must divide the ${placement.processes} device(s) measured on this machine`);
  }
  const byteScale = dtypeBytes(o.model.dtype) / dtypeBytes(dtype);
  if (dtype !== o.model.dtype) {
    notes.push(
      `layers measured in ${dtype} (the model trains in ${o.model.dtype}); parameter, activation and working-set bytes scaled by ${byteScale} to ${o.model.dtype}`,
    );
  }

  // Layers: measured entries, flagged per (shape, tp) series, plus fitted larger micro-batches.
  const series = new Map<string, LayerProfileEntry[]>();
  let method = '';
  for (const t of plan.all) {
    if (t.kind !== 'layer') continue;
    const m: LayerMeasurement | undefined = cache.getLayer(layerKeyOf(t));
    if (!m) continue; // out of memory
    method = m.memoryMethod;
    const e: LayerProfileEntry = {
      shapeKey: t.shapeKey,
      microBatch: t.microBatch,
      tp: t.tp,
      forwardMs: m.forwardMs,
      backwardMs: m.backwardMs,
      tpCommunication: 'included',
      activationBytes: Math.round(m.activationBytes * byteScale),
      workingSetBytes: Math.round(m.workingSetBytes * byteScale),
      parameterBytes: Math.round(m.parameterBytes * byteScale),
      spread: m.spread,
    };
    const k = `${t.shapeKey}|${t.tp}`;
    const list = series.get(k) ?? [];
    list.push(e);
    series.set(k, list);
  }
  if (method) notes.push(`memory: ${describeMemoryMethod(method)}`);
  const oomKeys = new Set(
    stats.outOfMemory.map((id) => {
      const t = plan.all.find((x) => x.id === id) as LayerTask | undefined;
      return t ? `${t.shapeKey}|${t.tp}` : '';
    }),
  );
  const layers: LayerProfileEntry[] = [];
  const maxMeasured = Math.max(...plan.all.filter((t): t is LayerTask => t.kind === 'layer').map((t) => t.microBatch), 1);
  const fitUpTo = o.fitUpTo ?? 4 * maxMeasured;
  let fitted = 0;
  for (const [k, list] of series) {
    const flagged = flagSeries(list);
    layers.push(...flagged);
    if (fitUpTo > 0 && !oomKeys.has(k)) {
      const extra = extendSeries(flagged, fitUpTo);
      fitted += extra.length;
      layers.push(...extra);
    }
  }
  if (fitted > 0) {
    notes.push(`${fitted} entries flagged 'fitted': linear fits in micro-batch beyond the measured sizes (up to ${fitUpTo}), not measured`);
  }
  const flagCounts = new Map<string, number>();
  for (const e of layers) for (const f of e.flags ?? []) if (f !== 'fitted') flagCounts.set(f, (flagCounts.get(f) ?? 0) + 1);
  if (flagCounts.size > 0) {
    notes.push(
      `flagged layer entries (values kept): ${[...flagCounts].map(([f, n]) => `${n} ${f}`).join(', ')}; ` +
        `noisy = spread > 0.5, non-monotone = slower at a smaller micro-batch, off-fit = >25% off the linear fit`,
    );
  }
  for (const id of stats.outOfMemory) notes.push(`out of memory: ${id} (and larger micro-batches of that shape and tp) left out`);

  // Links: fit per (collective, group size) over the measured message sizes.
  const links: LinkProfileEntry[] = [];
  let emulated = false;
  for (const c of COLLECTIVES) {
    for (const g of c === 'p2p' ? (plan.groupSizes.length ? [2] : []) : plan.groupSizes) {
      const points: { bytes: number; timeMs: number }[] = [];
      for (const bytes of plan.messageSizes) {
        const m = cache.getLink({ collective: c, groupSize: g, nodes: 1, bytes });
        if (!m) continue;
        if (m.emulated) emulated = true;
        points.push({ bytes, timeMs: m.timeMs });
      }
      if (points.length === 0) continue;
      const fit = fitLink(c, g, 1, points);
      links.push(fit.entry);
      if (fit.nonMonotoneBytes.length > 0) {
        notes.push(`${c} on ${g} ranks: non-monotone time at ${fit.nonMonotoneBytes.map(fmtSize).join(', ')} (faster than a smaller message; noise)`);
      }
      if (fit.maxRelativeError > 0.5) notes.push(`${c} on ${g} ranks: the latency + bandwidth fit is off by up to ${Math.round(fit.maxRelativeError * 100)}% at some size (noisy)`);
    }
  }
  if (plan.messageSizes.length > 0) {
    notes.push(
      `links: ${placement.backend} on ${placement.processes} local processes, all groups of a size at once, messages ${fmtSize(plan.messageSizes[0]!)}..${fmtSize(plan.messageSizes[plan.messageSizes.length - 1]!)} ` +
        `x4 steps; fit latency + busFactor*bytes/busBandwidth weighted by relative error (nccl-tests bus factors)`,
    );
  }
  if (emulated) notes.push('reduce-scatter emulated on gloo (which lacks it) as all-reduce of the full buffer + slice: its time is an all-reduce');
  // Group shapes that cannot be run here (across nodes, or more devices than this machine has):
  // derived from the cluster spec the way the spec profile does, and said so.
  const measured = new Set(links.map((l) => `${l.collective}|${l.groupSize}|${l.nodes}`));
  let derived = 0;
  if (o.cluster.nodes.length > 1 || placement.processes < node.devices) {
    const intraEff = intraNodeBusEfficiency(node.intraNodeLink);
    const interEff = o.cluster.interNodeLink ? interNodeBusEfficiency(o.cluster.interNodeLink) : 0;
    for (const { groupSize, nodes } of groupShapes(o.cluster.nodes.length, node.devices)) {
      for (const c of COLLECTIVES) {
        if (c === 'p2p' && groupSize !== 2) continue;
        if (measured.has(`${c}|${groupSize}|${nodes}`)) continue;
        links.push(linkEntry(o.cluster, c, groupSize, nodes, intraEff, interEff));
        derived++;
      }
    }
    if (derived > 0) notes.push(`${derived} link entries not measurable from this machine (other nodes, more devices) derived from the cluster spec (uniap spec-profile model)`);
  }

  let overlapSlowdown = 0;
  const ov = cache.getOverlap();
  if (ov) {
    overlapSlowdown = ov.slowdown;
    notes.push(
      `overlap: compute alone ${ov.computeAloneMs.toFixed(1)} ms, with concurrent all-reduces ${ov.computeOverlappedMs.toFixed(1)} ms, ` +
        `communication ${ov.commAloneMs.toFixed(1)} ms -> slowdown ${ov.slowdown.toFixed(3)} per overlapped ms`,
    );
  } else if (placement.processes < 2) notes.push('overlap slowdown not measured (one device): 0');
  else if (o.skipLinks) notes.push('links and the overlap slowdown not measured (layers only): overlapSlowdown 0');
  notes.push(`optimizer step not measured: AdamW at the datasheet memory bandwidth x ${MEMORY_EFFICIENCY[node.deviceType.kind]}`);

  const dev = cache.getDevice();
  const capacityBytes = placement.kind === 'gpu' && dev && dev.capacityBytes > 0 ? dev.capacityBytes : node.deviceType.memoryBytes;
  const reservedBytes = Math.min(dev?.reservedBytes ?? 0, Math.floor(capacityBytes / 2));
  notes.push(
    placement.kind === 'gpu'
      ? 'reservedBytes: device memory held outside PyTorch tensors after the run (CUDA context, NCCL buffers)'
      : 'reservedBytes: resident memory of one measuring process before measuring (interpreter, torch, Gloo)',
  );

  const versions: Record<string, string> = {
    python: info.python,
    torch: info.torch,
    backend: placement.backend,
    hardware: cache.env.hardware,
    blas: info.blas || 'unknown',
    code: cache.env.code,
    cacheKey: cache.dir.split(/[\\/]/).pop() ?? '',
  };
  if (info.cuda) versions.cuda = info.cuda;
  if (info.nccl) versions.nccl = info.nccl;
  if (info.driver) versions.driver = info.driver;
  if (placement.kind === 'cpu') versions.threadsPerProcess = String(placement.threads);

  return {
    schemaVersion: PROFILE_SCHEMA_VERSION,
    provenance: {
      kind: 'measured',
      device: node.deviceType.name,
      date: new Date().toISOString(),
      tool: `uniap profile (torch ${info.torch}, ${placement.backend}, ${placement.processes} process${placement.processes === 1 ? '' : 'es'} on ${os.hostname()})`,
      versions,
      notes,
    },
    device: { name: node.deviceType.name, capacityBytes, reservedBytes },
    cluster: { name: o.cluster.name, nodes: o.cluster.nodes.length, devicesPerNode: node.devices },
    overlapSlowdown,
    // The optimizer step is not measured: the datasheet bandwidth x the streaming efficiency, as the
    // spec profile takes it (noted in provenance).
    optimizerBandwidthGBps: node.deviceType.memoryBandwidthGBps * MEMORY_EFFICIENCY[node.deviceType.kind],
    // The layers use torch's scaled_dot_product_attention where torch has it (2.x); on GPUs its fused
    // kernels keep no s x S tensors (python/uniap_torch/layers.py _attend).
    attention: placement.kind !== 'cpu' && Number.parseInt(info.torch, 10) >= 2 ? 'flash' : 'eager',
    // NCCL on GPUs, Gloo (all-to-all emulated by an all-gather) on CPUs (python/uniap_torch/comm.py).
    allToAll: placement.kind === 'cpu' ? 'all-gather' : 'native',
    layers,
    links,
  };
}

function describeMemoryMethod(m: string): string {
  if (m === 'cuda-allocator') return 'CUDA allocator statistics (activation = allocated growth across forward; working set = peak allocated during backward above its start, gradient buffers included)';
  return 'activation = distinct saved tensors (torch.autograd.graph.saved_tensors_hooks, parameters excluded); working set = peak of torch.profiler allocation events during backward, gradient buffers included';
}
