// Benchmark of `uniap profile` on this machine: wall time of profiling Llama-shaped tiny models
// (SwiGLU, RMSNorm, RoPE, GQA) on 2 CPU processes over Gloo, cold (empty cache) and warm (same
// command again), and a model that shares its layer shapes with one already profiled. Prints ratios
// against the cold run measured in the same invocation.
//
//   npx tsx bench/profiler.ts            quick mode (messages up to 4 MiB)
//   npx tsx bench/profiler.ts --full     messages up to 256 MiB, 3 warm-ups, 10 repetitions
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadCluster } from '../configs/cluster-presets.ts';
import type { ModelConfig } from '../configs/model-spec.ts';
import { resolveModel } from '../configs/model-resolve.ts';
import { measureProfile, type MeasureResult } from '../profiler/measure/run.ts';

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

const header = ['model', 'tasks', 'cold: measured', 'cold s', 'warm: measured', 'warm s', 'cold / warm'];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const line = (c: string[]) => c.map((x, i) => x.padEnd(widths[i]!)).join('  ');
console.log(`uniap profile on ${cluster.name} (${os.cpus().length} logical CPUs, ${full ? 'full' : 'quick'} mode; links are measured once per machine and shared by every model)`);
console.log([line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n'));
