// Benchmark of `uniap profile` on this machine: wall time of profiling Llama-shaped tiny models
// (SwiGLU, RMSNorm, RoPE, GQA) on 2 CPU processes over Gloo, cold (empty cache) and warm (same
// command again), and a model that shares its layer shapes with one already profiled. Prints ratios
// against the cold run measured in the same invocation.
//
//   npx tsx bench/profiler.ts            quick mode (messages up to 4 MiB)
//   npx tsx bench/profiler.ts --full     messages up to 256 MiB, 3 warm-ups, 10 repetitions
//   npx tsx bench/profiler.ts --gpu [CLUSTER]
//        on a GPU machine: one Llama-2-7B decoder layer (bf16, seq 4096) on one GPU at micro-batch
//        1 and 2, measured vs the datasheet spec profile of CLUSTER (default h200-1x8): forward ms,
//        kept activations, working set, as ratios measured / spec.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadCluster } from '../configs/cluster-presets.ts';
import type { ModelConfig } from '../configs/model-spec.ts';
import { resolveModel } from '../configs/model-resolve.ts';
import { measureProfile, type MeasureResult } from '../profiler/measure/run.ts';
import { loadModel } from '../configs/model-presets.ts';
import { layerShapeKey } from '../configs/model-derive.ts';
import { deriveSpecProfile } from '../profiler/spec-profile.ts';

if (process.argv.includes('--gpu')) {
  await gpuComparison(process.argv[process.argv.indexOf('--gpu') + 1] ?? 'h200-1x8');
  process.exit(0);
}

/** Llama-2-7B's decoder layer measured on this machine's first GPU vs the spec profile. */
async function gpuComparison(clusterName: string): Promise<void> {
  const llama = loadModel('llama-2-7b');
  // One embedding, one decoder block, the head: the shapes of the real model, 1/32 of its depth.
  const model = { ...llama, name: 'llama-2-7b (1 block)', layers: llama.layers.filter((l) => l.type !== 'decoder' || l.index === 1) };
  const cluster = loadCluster(clusterName);
  const cacheDir = mkdtempSync(path.join(os.tmpdir(), 'uniap-bench-gpu-'));
  try {
    const t0 = performance.now();
    const r = await measureProfile({ model, cluster, cacheDir, microBatches: [1, 2], tpDegrees: [1], skipLinks: true, progress: process.stderr });
    const wall = (performance.now() - t0) / 1000;
    const spec = deriveSpecProfile(model, cluster, { microBatches: [1, 2], tpDegrees: [1] });
    const key = layerShapeKey(model.layers.find((l) => l.type === 'decoder')!);
    const rows = [1, 2].map((mb) => {
      const m = r.profile!.layers.find((e) => e.shapeKey === key && e.microBatch === mb && e.tp === 1)!;
      const s = spec.layers.find((e) => e.shapeKey === key && e.microBatch === mb && e.tp === 1)!;
      const gib = (b: number) => (b / 2 ** 30).toFixed(2);
      return [
        String(mb),
        `${m.forwardMs.toFixed(2)} / ${s.forwardMs.toFixed(2)} (${(m.forwardMs / s.forwardMs).toFixed(2)}x)`,
        `${m.backwardMs.toFixed(2)} / ${s.backwardMs.toFixed(2)} (${(m.backwardMs / s.backwardMs).toFixed(2)}x)`,
        `${gib(m.activationBytes)} / ${gib(s.activationBytes)} GiB (${(m.activationBytes / s.activationBytes).toFixed(2)}x)`,
        `${gib(m.workingSetBytes)} / ${gib(s.workingSetBytes)} GiB`,
      ];
    });
    console.log(`Llama-2-7B decoder layer (bf16, seq ${model.layers[1]!.seqLength}) on ${r.profile!.provenance.versions?.hardware}: measured / spec (${clusterName}); profiling took ${wall.toFixed(1)} s`);
    printTable(['mb', 'forward ms', 'backward ms', 'activations', 'working set'], rows);
    console.log(`reserved (CUDA context + NCCL): ${(r.profile!.device.reservedBytes / 2 ** 30).toFixed(2)} GiB of ${(r.profile!.device.capacityBytes / 2 ** 30).toFixed(1)} GiB`);
  } finally {
    rmSync(cacheDir, { recursive: true, force: true });
  }
}

function printTable(header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (c: string[]) => c.map((x, i) => x.padEnd(widths[i]!)).join('  ');
  console.log([line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n'));
}

function tinyLlama(name: string, hidden: number, heads: number, kvHeads: number, layers: number, seq: number): ModelConfig {
  return {
    schemaVersion: 1,
    name,
    family: 'decoder-only',
    description: `Llama-shaped tiny model: ${layers} layers, hidden ${hidden}, ${heads} heads (${kvHeads} KV), SwiGLU, seq ${seq}`,
    dtype: 'fp32',
    hiddenSize: hidden,
    // Llama's FFN rule (8/3 h rounded up to a multiple of 64 here).
    ffnSize: 64 * Math.ceil((8 / 3) * hidden / 64),
    activation: 'swiglu',
    heads,
    kvHeads,
    seqLength: seq,
    vocabSize: 1024,
    norm: 'rmsnorm',
    bias: false,
    blocks: [{ type: 'embedding', positionEmbedding: 'rope' }, { type: 'decoder', count: layers }, { type: 'head' }],
  };
}

const full = process.argv.includes('--full');
const cluster = loadCluster('local-cpu:2');
const cacheDir = mkdtempSync(path.join(os.tmpdir(), 'uniap-bench-profiler-'));
const models = [
  resolveModel(tinyLlama('tiny-llama-128', 128, 4, 2, 4, 64), 'bench'),
  resolveModel(tinyLlama('tiny-llama-256', 256, 8, 4, 4, 128), 'bench'),
];
// Same layer shapes as tiny-llama-128, twice the depth: nothing new to measure.
const deeper = resolveModel(tinyLlama('tiny-llama-128-deep', 128, 4, 2, 8, 64), 'bench');

async function timed(model: (typeof models)[number]): Promise<MeasureResult & { seconds: number }> {
  const t0 = performance.now();
  const r = await measureProfile({ model, cluster, cacheDir, quick: !full, microBatches: [1, 2, 4] });
  return { ...r, seconds: (performance.now() - t0) / 1000 };
}

const rows: string[][] = [];
try {
  for (const model of models) {
    const cold = await timed(model);
    const warm = await timed(model);
    rows.push([
      model.name,
      String(cold.stats.tasks),
      `${cold.stats.measured}`,
      cold.seconds.toFixed(1),
      `${warm.stats.measured}`,
      warm.seconds.toFixed(1),
      `${(cold.seconds / warm.seconds).toFixed(1)}x`,
    ]);
  }
  const d = await timed(deeper);
  rows.push([deeper.name, String(d.stats.tasks), '-', '-', `${d.stats.measured}`, d.seconds.toFixed(1), '(shares shapes)']);
} finally {
  rmSync(cacheDir, { recursive: true, force: true });
}

console.log(`uniap profile on ${cluster.name} (${os.cpus().length} logical CPUs, ${full ? 'full' : 'quick'} mode; links are measured once per machine and shared by every model)`);
printTable(['model', 'tasks', 'cold: measured', 'cold s', 'warm: measured', 'warm s', 'cold / warm'], rows);
