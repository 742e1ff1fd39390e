// `uniap profile`: measure a model's layers and the cluster's links on this machine's devices
// (profiler/measure/run.ts) and write a Profile; `uniap profile import-galvatron DIR`: convert
// Galvatron's published measurements (profiler/galvatron/import.ts). Ctrl-C stops measuring and
// keeps every finished measurement in the cache, so the same command continues where it stopped.
import path from 'node:path';
import { writeFileSync, mkdirSync } from 'node:fs';
import type { Argv, CommandModule } from 'yargs';
import { loadCluster } from '../configs/cluster-presets.ts';
import { UniapError } from '../common/errors.ts';
import { loadModel } from '../configs/model-presets.ts';
import type { DType } from '../configs/model-spec.ts';
import { saveProfile } from '../profiler/profile-io.ts';
import type { Profile } from '../profiler/profile.ts';
import { importGalvatron } from '../profiler/galvatron/import.ts';
import { measureProfile, type MeasureStats } from '../profiler/measure/run.ts';
import { DEFAULT_PYTHON, PYTHON_ENV_VAR } from '../common/python.ts';
import { MiB } from '../profiler/measure/tasks.ts';
import { fmtBytes, fmtMs, table } from './format.ts';
import { SEQ_LENGTH_OPTION } from './inputs.ts';

interface ProfileArgs {
  json?: boolean;
  model?: string;
  cluster?: string;
  out: string;
  'micro-batches'?: string;
  tp?: string;
  'cache-dir'?: string;
  python?: string;
  quick?: boolean;
  'max-message-mib'?: number;
  dtype?: string;
  warmup?: number;
  reps?: number;
  links?: boolean;
}

interface ImportArgs {
  json?: boolean;
  dir: string;
  out: string;
  model?: string;
  tag?: string;
  'cluster-shape'?: string;
  hardware?: string;
  seq?: number;
  device?: string;
  'memory-gib'?: number;
  'model-out'?: string;
}

/** "1,2,4" -> [1, 2, 4]; every entry a positive integer. */
export function parseIntList(flag: string, s: string): number[] {
  const parts = s.split(',').map((x) => x.trim()).filter((x) => x !== '');
  const out = parts.map(Number);
  if (parts.length === 0 || out.some((n) => !Number.isInteger(n) || n < 1)) {
    throw new UniapError('CONFIG_INVALID', `--${flag} "${s}" is not a comma-separated list of positive integers; write e.g. --${flag} 1,2,4`);
  }
  return [...new Set(out)].sort((a, b) => a - b);
}

const importGalvatronCommand: CommandModule<object, ImportArgs> = {
  command: 'import-galvatron <dir>',
  describe: "Convert Galvatron's profile files (hardware bandwidth, computation_profiling, memory_profiling) into a uniap profile",
  builder: (y) =>
    (y as Argv<object>)
      .positional('dir', { type: 'string', demandOption: true, describe: 'Folder holding Galvatron JSON files (searched recursively)' })
      .option('out', { type: 'string', default: 'profile.json', describe: 'Where to write the profile' })
      .option('model', { type: 'string', describe: 'The model the files were measured on (preset or JSON); default: built from meta_configs beside the files' })
      .option('tag', { type: 'string', describe: 'Pick one model dataset when DIR holds several (substring of "<folder>/<dtype>_<tag>")' })
      .option('cluster-shape', { type: 'string', describe: 'Pick the hardware files when DIR holds several: NxD (nodes x GPUs per node); default the largest' })
      .option('hardware', { type: 'string', describe: 'Another folder to take hardware_configs files from' })
      .option('seq', { type: 'number', describe: 'Sequence length to take from files that measure several' })
      .option('device', { type: 'string', describe: 'Device type name the numbers describe (default A100-40GB-SXM)' })
      .option('memory-gib', { type: 'number', describe: 'Device memory in GiB (default: the device type)' })
      .option('model-out', { type: 'string', describe: 'Where to write the model built from meta_configs (default: beside --out)' })
      .check((a) => {
        if (a.seq !== undefined && !(Number.isInteger(a.seq) && a.seq > 0)) throw new Error(`--seq must be a positive integer, got ${a.seq}`);
        if (a['memory-gib'] !== undefined && !(a['memory-gib'] > 0)) throw new Error(`--memory-gib must be positive, got ${a['memory-gib']}`);
        return true;
      }) as unknown as Argv<ImportArgs>,
  handler: (argv) => {
    const r = importGalvatron(argv.dir, {
      ...(argv.model ? { model: loadModel(argv.model) } : {}),
      ...(argv.tag ? { tag: argv.tag } : {}),
      ...(argv['cluster-shape'] ? { clusterShape: argv['cluster-shape'] } : {}),
      ...(argv.hardware ? { hardwareDir: argv.hardware } : {}),
      ...(argv.seq !== undefined ? { seqLength: argv.seq } : {}),
      ...(argv.device ? { device: argv.device } : {}),
      ...(argv['memory-gib'] !== undefined ? { memoryGiB: argv['memory-gib'] } : {}),
    });
    saveProfile(r.profile, argv.out);
    let modelFile: string | undefined;
    if (r.modelConfig) {
      modelFile = argv['model-out'] ?? path.join(path.dirname(argv.out), `${r.model.name}.model.json`);
      mkdirSync(path.dirname(modelFile), { recursive: true });
      writeFileSync(modelFile, `${JSON.stringify(r.modelConfig, null, 2)}\n`);
    }
    const modelArg = modelFile ?? argv.model ?? r.model.name;
    if (argv.json) {
      process.stdout.write(`${JSON.stringify({ profile: argv.out, model: modelFile ?? argv.model, dataset: r.dataset, hardware: r.hardware, layers: r.profile.layers.length, links: r.profile.links.length, notes: r.profile.provenance.notes ?? [] }, null, 2)}\n`);
      return;
    }
    const lines = [
      `imported ${r.dataset} (${r.model.name}) on ${r.hardware} ${r.profile.device.name} -> ${argv.out}`,
      `  ${r.profile.layers.length} layer entries, ${r.profile.links.length} link entries, overlap slowdown ${r.profile.overlapSlowdown.toFixed(3)}`,
      ...(modelFile ? [`  model built from Galvatron meta_configs -> ${modelFile}`] : []),
      ...(r.profile.provenance.notes ?? []).map((n) => `  note: ${n}`),
      `plan with: uniap plan --model ${modelArg} --profile ${argv.out} --batch B`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  },
};

export const profileCommand: CommandModule<object, ProfileArgs> = {
  command: 'profile',
  describe: 'Measure layer compute/memory and link bandwidth on this machine with PyTorch; or `profile import-galvatron DIR`',
  builder: (y) =>
    (y as Argv<object>)
      .usage(
        'uniap profile --model M --cluster C [--out profile.json]\n\n' +
          'Launches one PyTorch process per device (CUDA + NCCL on GPUs, CPU + Gloo otherwise), measures every distinct layer shape ' +
          'at each micro-batch size and TP degree with the executor\'s own layers, and all-reduce / all-gather / reduce-scatter / p2p ' +
          'from 1 KiB to 256 MiB (--quick: 4 MiB). Results are cached (~/.cache/uniap, --cache-dir); a rerun measures only what is missing, ' +
          `and Ctrl-C keeps what finished. Python: --python, else $${PYTHON_ENV_VAR}, else ${DEFAULT_PYTHON}.`,
      )
      .command(importGalvatronCommand as unknown as CommandModule<object, object>)
      .option('model', { type: 'string', describe: 'Model preset name (`uniap models`), model JSON, or Hugging Face config.json' })
      .option('cluster', { type: 'string', describe: 'Cluster preset, local-cpu:N, or cluster JSON: the devices to measure (this node)' })
      .option('seq-length', SEQ_LENGTH_OPTION)
      .option('out', { type: 'string', default: 'profile.json', describe: 'Where to write the profile' })
      .option('micro-batches', { type: 'string', default: '1,2,4', describe: 'Per-device micro-batch sizes to measure, comma-separated' })
      .option('tp', { type: 'string', describe: 'Tensor-parallel degrees, comma-separated (default: every divisor of the devices per node)' })
      .option('cache-dir', { type: 'string', describe: 'Measurement cache folder (default $UNIAP_CACHE_DIR or ~/.cache/uniap)' })
      .option('python', { type: 'string', describe: `Python 3 with torch (default $${PYTHON_ENV_VAR} or ${DEFAULT_PYTHON})` })
      .option('quick', { type: 'boolean', default: false, describe: 'Messages up to 4 MiB, 1 warm-up, 3 repetitions (CPU, smoke tests)' })
      .option('max-message-mib', { type: 'number', describe: 'Largest link message in MiB (default 256; --quick 4)' })
      .option('dtype', { type: 'string', choices: ['fp32', 'fp16', 'bf16'], describe: 'Build layers in this dtype (default: the model\'s on GPUs, fp32 on CPUs)' })
      .option('warmup', { type: 'number', describe: 'Warm-up iterations per layer measurement (default 3; --quick 1)' })
      .option('reps', { type: 'number', describe: 'Timed repetitions per layer measurement (default 10; --quick 3)' })
      .option('links', { type: 'boolean', default: true, describe: 'Measure links and the overlap slowdown (--no-links: layers only)' })
      .check((a) => {
        for (const k of ['warmup', 'reps'] as const) {
          const v = a[k] as number | undefined;
          if (v !== undefined && !(Number.isInteger(v) && v >= (k === 'reps' ? 1 : 0))) throw new Error(`--${k} must be a whole number${k === 'reps' ? ' >= 1' : ' >= 0'}, got ${v}`);
        }
        const m = a['max-message-mib'] as number | undefined;
        if (m !== undefined && !(m > 0)) throw new Error(`--max-message-mib must be positive, got ${m}`);
        return true;
      }) as unknown as Argv<ProfileArgs>,
  handler: async (argv) => {
    if (!argv.model || !argv.cluster) {
      throw new UniapError('CONFIG_INVALID', 'uniap profile needs --model M and --cluster C (e.g. --model tiny-gpt --cluster local-cpu:2); `uniap profile --help` explains the options');
    }
    const model = loadModel(argv.model, (argv as { 'seq-length'?: number })['seq-length']);
    const cluster = loadCluster(argv.cluster);
    const controller = new AbortController();
    const onSigint = () => controller.abort();
    process.once('SIGINT', onSigint);
    let result;
    try {
      result = await measureProfile({
        model,
        cluster,
        microBatches: parseIntList('micro-batches', argv['micro-batches'] ?? '1,2,4'),
        ...(argv.tp ? { tpDegrees: parseIntList('tp', argv.tp) } : {}),
        ...(argv['cache-dir'] ? { cacheDir: argv['cache-dir'] } : {}),
        ...(argv.python ? { python: argv.python } : {}),
        quick: argv.quick ?? false,
        ...(argv['max-message-mib'] !== undefined ? { maxMessageBytes: Math.round(argv['max-message-mib'] * MiB) } : {}),
        ...(argv.dtype ? { dtype: argv.dtype as DType } : {}),
        ...(argv.warmup !== undefined ? { warmup: argv.warmup } : {}),
        ...(argv.reps !== undefined ? { reps: argv.reps } : {}),
        ...(argv.links === false ? { skipLinks: true } : {}),
        progress: { write: (s) => process.stderr.write(s), isTTY: Boolean(process.stderr.isTTY), columns: process.stderr.columns ?? 100 },
        signal: controller.signal,
      });
    } finally {
      process.removeListener('SIGINT', onSigint);
    }
    if (!result.profile) {
      // Interrupted: the progress line already said where the finished measurements are.
      process.exitCode = 130;
      return;
    }
    saveProfile(result.profile, argv.out);
    if (argv.json) {
      process.stdout.write(`${JSON.stringify({ profile: argv.out, stats: result.stats }, null, 2)}\n`);
      return;
    }
    process.stdout.write(formatProfileSummary(result.profile, result.stats, argv.out));
  },
};

/** The human summary: layer entries (measured ones), links, where the file and cache are. */
export function formatProfileSummary(p: Profile, stats: MeasureStats, out: string): string {
  const rows = p.layers
    .filter((e) => !(e.flags ?? []).includes('fitted'))
    .map((e) => [
      e.shapeKey.split(':')[0]!,
      String(e.microBatch),
      String(e.tp),
      fmtMs(e.forwardMs),
      fmtMs(e.backwardMs),
      fmtBytes(e.activationBytes),
      fmtBytes(e.workingSetBytes),
      e.spread !== undefined ? `${Math.round(e.spread * 100)}%` : '-',
      (e.flags ?? []).join(' '),
    ]);
  const linkRows = p.links
    .filter((l) => l.nodes === 1)
    .map((l) => [l.collective, String(l.groupSize), fmtMs(l.latencyMs), `${l.busBandwidthGBps.toPrecision(3)} GB/s`]);
  return [
    `profile of ${stats.tasks} measurements (${stats.measured} new, ${stats.fromCache} from cache) -> ${out}`,
    `cache: ${stats.cacheDir}`,
    '',
    table(['layer', 'mb', 'tp', 'forward', 'backward', 'activations', 'working set', 'spread', 'flags'], rows),
    '',
    linkRows.length ? table(['collective', 'ranks', 'latency', 'bus bandwidth'], linkRows) : '(no links measured: one device or --no-links)',
    `overlap slowdown: ${p.overlapSlowdown.toFixed(3)} per overlapped ms`,
    '',
  ].join('\n');
}
