// Measured training runs, as users and published tables report them: one row per run with its model,
// cluster, parallel degrees, batch and the measured time per iteration. Read from CSV or JSON into
// one resolved type; a bad row is one UniapError naming the file, the row and the fix. COLUMNS below
// is the one definition of the column names and what they hold.
import { readFileSync } from 'node:fs';
import { UniapError } from '../../common/errors.ts';
import { parseJsonText } from '../../common/json-file.ts';
import { parseCsv } from './csv.ts';

export type Recompute = 'none' | 'selective' | 'full';

/** One measured run, resolved: every field required, units normalised. */
export interface MeasuredRun {
  /** File and 1-based data row (CSV) or array index (JSON), for messages. */
  where: string;
  /** Data set the row belongs to (column `source`, default the file name). */
  source: string;
  /** A model preset, a model JSON path, or a name for the shape given in `shape`. */
  model: string;
  /** Decoder shape when the row gives one instead of a preset (published tables do). */
  shape: ModelShape | null;
  /** A cluster preset or file; or null when `gpu` + `gpus` + `gpusPerNode` describe it. */
  cluster: string | null;
  gpu: string | null;
  gpus: number;
  gpusPerNode: number;
  tp: number;
  pp: number;
  dp: number;
  /** Samples per data-parallel rank per micro-batch (Megatron-LM --micro-batch-size). */
  microBatch: number;
  /** Samples per iteration (Megatron-LM --global-batch-size). */
  globalBatch: number;
  recompute: Recompute;
  sequenceParallel: boolean;
  /** ZeRO stage of the data-parallel sharding (0: replicated; 1: Megatron's distributed optimizer; 3: FSDP). */
  zeroStage: 0 | 1 | 2 | 3;
  /** Measured time per iteration, ms. */
  timeMs: number;
  /** Measured peak memory per device, bytes, when the row reports it. */
  memoryBytes: number | null;
}

export interface ModelShape {
  /** 'gpt': GELU MLP, LayerNorm, learned positions, biases (GPT-3, Megatron GPT); 'llama': SwiGLU, RMSNorm, RoPE, no biases. */
  arch: 'gpt' | 'llama';
  layers: number;
  hidden: number;
  heads: number;
  kvHeads: number;
  ffn: number;
  vocab: number;
  seqLength: number;
}

/** Column name -> what it holds. Unknown columns are errors (a typo must not be silently ignored). */
export const COLUMNS: Record<string, string> = {
  source: 'data set name (default: the file name)',
  model: 'model preset (uniap models), model JSON / HF config.json path, or a name for the shape columns',
  arch: 'gpt | llama, with the shape columns (default gpt)',
  layers: 'transformer blocks (shape)',
  hidden: 'hidden size (shape)',
  heads: 'attention heads (shape)',
  kv_heads: 'key/value heads (shape, default heads)',
  ffn: 'FFN size (shape, default 4 x hidden for gpt)',
  vocab: 'vocabulary size (shape, default 51200)',
  seq_length: 'tokens per sample (shape; with a preset it must equal the preset\'s)',
  cluster: 'cluster preset or cluster JSON path (instead of gpu/gpus/gpus_per_node)',
  gpu: 'device type: A100-40GB-SXM, A100-80GB-SXM, H100-SXM, H200-SXM, V100-32GB-SXM2 ... (configs/devices.json)',
  gpus: 'devices in the run',
  gpus_per_node: 'devices per node (default 8)',
  tp: 'tensor-parallel degree',
  pp: 'pipeline-parallel degree',
  dp: 'data-parallel degree (default gpus / (tp x pp))',
  micro_batch: 'samples per data-parallel rank per micro-batch',
  global_batch: 'samples per iteration',
  recompute: 'none | selective | full (default none)',
  sequence_parallel: 'yes | no (default no)',
  zero_stage: '0 | 1 | 2 | 3 (default 0; 1 = Megatron --use-distributed-optimizer, 3 = FSDP)',
  time_ms: 'measured time per iteration, ms (or give metric + value)',
  metric: 'iteration_time_s | iteration_time_ms | tokens_per_s_per_gpu | samples_per_s (with value)',
  value: 'the measured number, in the unit the metric names',
  memory_gb: 'measured peak memory per device, GiB (optional)',
  notes: 'free text (ignored)',
};

type Raw = Record<string, string>;

/** Runs from a CSV file's text (header row of COLUMNS names). */
export function parseRunsCsv(text: string, file: string): MeasuredRun[] {
  const rows = parseCsv(text, file);
  if (rows.length === 0) throw new UniapError('CONFIG_INVALID', `${file}: no header row; the first line names the columns (${Object.keys(COLUMNS).join(', ')})`);
  const header = rows[0]!.map((h) => h.trim());
  for (const h of header) {
    if (!(h in COLUMNS)) throw new UniapError('CONFIG_INVALID', `${file}: unknown column "${h}"; the columns are ${Object.keys(COLUMNS).join(', ')}`);
  }
  return rows.slice(1).map((cells, i) => {
    const where = `${file} row ${i + 1}`;
    if (cells.length !== header.length) throw new UniapError('CONFIG_INVALID', `${where}: ${cells.length} cells but the header has ${header.length} columns; quote cells that contain commas`);
    const raw: Raw = {};
    header.forEach((h, j) => {
      const v = cells[j]!.trim();
      if (v !== '') raw[h] = v;
    });
    return resolveRun(raw, where, file);
  });
}

/** Runs from JSON: an array of objects with the COLUMNS keys (numbers or strings). */
export function parseRunsJson(json: unknown, file: string): MeasuredRun[] {
  if (!Array.isArray(json)) throw new UniapError('CONFIG_INVALID', `${file}: expected an array of runs, one object per run with the keys ${Object.keys(COLUMNS).join(', ')}`);
  return json.map((o, i) => {
    const where = `${file} run ${i}`;
    if (o === null || typeof o !== 'object' || Array.isArray(o)) throw new UniapError('CONFIG_INVALID', `${where}: not an object; give one object per run`);
    const raw: Raw = {};
    for (const [k, v] of Object.entries(o as Record<string, unknown>)) {
      if (!(k in COLUMNS)) throw new UniapError('CONFIG_INVALID', `${where}: unknown key "${k}"; the keys are ${Object.keys(COLUMNS).join(', ')}`);
      if (v === null || v === undefined || v === '') continue;
      raw[k] = typeof v === 'boolean' ? (v ? 'yes' : 'no') : String(v);
    }
    return resolveRun(raw, where, file);
  });
}

function resolveRun(raw: Raw, where: string, file: string): MeasuredRun {
  const bad = (msg: string): never => {
    throw new UniapError('CONFIG_INVALID', `${where}: ${msg}`);
  };
  const int = (k: string, dflt?: number): number => {
    const s = raw[k];
    if (s === undefined) {
      if (dflt !== undefined) return dflt;
      return bad(`column ${k} is empty; give ${COLUMNS[k]}`);
    }
    const n = Number(s);
    if (!Number.isInteger(n) || n < 1) return bad(`${k} "${s}" is not a whole number >= 1; give ${COLUMNS[k]}`);
    return n;
  };
  const num = (k: string): number | null => {
    const s = raw[k];
    if (s === undefined) return null;
    const n = Number(s);
    if (!Number.isFinite(n) || n <= 0) return bad(`${k} "${s}" is not a positive number; give ${COLUMNS[k]}`);
    return n;
  };
  const oneOf = <T extends string>(k: string, allowed: readonly T[], dflt: T): T => {
    const s = (raw[k] ?? dflt).toLowerCase();
    if (!(allowed as readonly string[]).includes(s)) return bad(`${k} "${raw[k]}" is not one of ${allowed.join(', ')}`);
    return s as T;
  };

  const model = raw.model ?? bad('column model is empty; give a preset name, a model file, or a name with the shape columns (layers, hidden, heads)');
  const shapeGiven = ['layers', 'hidden', 'heads'].some((k) => raw[k] !== undefined);
  let shape: ModelShape | null = null;
  if (shapeGiven) {
    const arch = oneOf('arch', ['gpt', 'llama'] as const, 'gpt');
    const hidden = int('hidden');
    const heads = int('heads');
    shape = {
      arch,
      layers: int('layers'),
      hidden,
      heads,
      kvHeads: int('kv_heads', heads),
      ffn: int('ffn', arch === 'gpt' ? 4 * hidden : undefined),
      vocab: int('vocab', 51200),
      seqLength: int('seq_length'),
    };
    if (hidden % heads !== 0) bad(`hidden ${hidden} is not a multiple of heads ${heads}; check the shape columns`);
  }

  const cluster = raw.cluster ?? null;
  const gpu = raw.gpu ?? null;
  if (cluster === null && gpu === null) bad('neither cluster nor gpu is given; name a cluster preset/file, or the gpu type with gpus and gpus_per_node');
  const tp = int('tp', 1);
  const pp = int('pp', 1);
  const gpusPerNode = int('gpus_per_node', 8);
  const gpus = raw.gpus !== undefined ? int('gpus') : raw.dp !== undefined ? int('dp') * tp * pp : bad('gpus is empty; give the devices of the run (or dp)');
  if (raw.dp === undefined && gpus % (tp * pp) !== 0) bad(`tp ${tp} x pp ${pp} = ${tp * pp} does not divide gpus ${gpus}; the degrees must multiply to the devices (give dp, or fix tp/pp)`);
  const dp = int('dp', gpus / (tp * pp));
  if (tp * pp * dp !== gpus) bad(`tp ${tp} x pp ${pp} x dp ${dp} = ${tp * pp * dp} but gpus is ${gpus}; the degrees must multiply to the devices`);
  if (gpus > gpusPerNode && gpus % gpusPerNode !== 0) bad(`gpus ${gpus} is not a whole number of ${gpusPerNode}-device nodes; fix gpus or gpus_per_node`);
  const microBatch = int('micro_batch');
  const globalBatch = int('global_batch');
  if (globalBatch % (microBatch * dp) !== 0) bad(`global_batch ${globalBatch} is not a multiple of micro_batch ${microBatch} x dp ${dp}; Megatron-LM requires it (gradient accumulation steps are whole)`);

  const zero = Number(raw.zero_stage ?? '0');
  if (![0, 1, 2, 3].includes(zero)) bad(`zero_stage "${raw.zero_stage}" is not 0, 1, 2 or 3`);
  const sp = oneOf('sequence_parallel', ['yes', 'no', 'true', 'false', '1', '0'] as const, 'no');

  let timeMs = num('time_ms');
  if (timeMs === null) {
    const metric = raw.metric ?? bad('no measured time: give time_ms, or metric and value');
    const value = num('value') ?? bad(`metric ${metric} has no value; give the measured number`);
    const tokensPerSample = shape?.seqLength ?? (raw.seq_length !== undefined ? int('seq_length') : null);
    switch (metric) {
      case 'iteration_time_s':
        timeMs = value * 1e3;
        break;
      case 'iteration_time_ms':
        timeMs = value;
        break;
      case 'samples_per_s':
        timeMs = (globalBatch / value) * 1e3;
        break;
      case 'tokens_per_s_per_gpu':
        if (tokensPerSample === null) bad('tokens_per_s_per_gpu needs seq_length to convert to time per iteration; add the seq_length column');
        timeMs = ((globalBatch * tokensPerSample!) / (value * gpus)) * 1e3;
        break;
      default:
        bad(`metric "${metric}" is not one of iteration_time_s, iteration_time_ms, tokens_per_s_per_gpu, samples_per_s; convert it or use time_ms`);
    }
  } else if (raw.metric !== undefined) {
    bad('both time_ms and metric are given; keep one');
  }
  const memGb = num('memory_gb');
  return {
    where,
    source: raw.source ?? file.replace(/^.*\//, ''),
    model,
    shape,
    cluster,
    gpu,
    gpus,
    gpusPerNode: Math.min(gpusPerNode, gpus),
    tp,
    pp,
    dp,
    microBatch,
    globalBatch,
    recompute: oneOf('recompute', ['none', 'selective', 'full'] as const, 'none'),
    sequenceParallel: ['yes', 'true', '1'].includes(sp),
    zeroStage: zero as 0 | 1 | 2 | 3,
    timeMs: timeMs!,
    memoryBytes: memGb === null ? null : memGb * 2 ** 30,
  };
}

/** Runs from a .csv or .json file the user gives (`uniap validate --measurements`). */
export function loadRuns(path: string): MeasuredRun[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new UniapError('FILE_NOT_FOUND', `cannot read measurements file ${path} (${(e as NodeJS.ErrnoException).code ?? 'error'}); pass a CSV or JSON file of measured runs (columns: uniap validate --help)`);
  }
  if (/\.json$/i.test(path)) return parseRunsJson(parseJsonText(text, path), path);
  return parseRunsCsv(text, path);
}
