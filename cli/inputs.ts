// Options shared by the planning verbs (--model, --cluster, --profile, --batch, --memory-gb) and the
// one place they are turned into a CostModelInput.
import type { Argv } from 'yargs';
import { loadModel } from '../configs/model-presets.ts';
import { loadCluster } from '../configs/cluster-presets.ts';
import { loadProfile } from '../profiler/profile-io.ts';
import { LONG_SEQUENCE, prepareCostModel, type CostModelInput, type CostModelOptions } from '../planner/cost-model/input.ts';
import { clusterFromProfile } from '../profiler/profile-cluster.ts';
import { UniapError } from '../common/errors.ts';
import type { ClusterSpec } from '../configs/cluster-spec.ts';

export interface PlanningArgs {
  model: string;
  cluster?: string;
  profile?: string;
  batch: number;
  'memory-gb'?: number;
  'allow-cross-node-tp'?: boolean;
  zero?: boolean;
  sp?: boolean;
  'selective-recompute'?: boolean;
  'max-cp'?: number;
  'seq-length'?: number;
}

/** --seq-length, the one definition every verb that takes a model uses. */
export const SEQ_LENGTH_OPTION = {
  type: 'number',
  describe: "Tokens per sample to train at (default: the preset's, or a Hugging Face config's stated training length)",
} as const;

/** The --seq-length check every verb that takes it runs (a yargs .check): throws the one error line. */
export function checkSeqLength(value: number | undefined): void {
  if (value !== undefined && (!Number.isInteger(value) || value < 1)) throw new Error(`--seq-length must be a whole number of tokens >= 1, got ${value}`);
}

/** The line a verb prints about the sequence length it used and where it came from. */
export function seqLengthLine(model: { layers: { seqLength: number }[]; family: string; source: string }, override: number | undefined): string {
  const tokens = model.layers[0]?.seqLength ?? 0;
  const rule = /sequence length \d+ from ([^;)]+(\([^)]*\))?[^;)]*)\)$/.exec(model.source)?.[1];
  const why = override !== undefined ? '--seq-length' : rule ? `Hugging Face config: ${rule}` : model.family === 'vision' ? 'image and patch size' : 'the model file';
  return `Sequence length: ${tokens} tokens per sample (${why}${override === undefined && model.family !== 'vision' ? '; --seq-length changes it' : ''})`;
}

export function withPlanningOptions<T>(y: Argv<T>, opts: { batchRequired: boolean }) {
  return y
    .option('model', { type: 'string', demandOption: true, describe: 'Model preset name (`uniap models`), model JSON, or Hugging Face config.json' })
    .option('cluster', { type: 'string', describe: 'Cluster preset name (`uniap clusters`), local-cpu:N, or cluster JSON (optional with an imported --profile)' })
    .option('profile', { type: 'string', describe: 'Plan on this measured/imported profile instead of the datasheet-derived one' })
    .option('batch', { type: 'number', demandOption: opts.batchRequired, describe: 'Global batch size (samples per iteration)' })
    .option('memory-gb', { type: 'number', describe: 'Override usable memory per device, GiB' })
    .option('allow-cross-node-tp', { type: 'boolean', default: false, describe: 'Let tensor-parallel groups span nodes' })
    .option('zero', { type: 'boolean', default: true, describe: 'Search ZeRO-1/2 (sharded optimizer states / gradients) per layer; --no-zero for replication and FSDP only' })
    .option('sp', { type: 'boolean', default: true, describe: 'Search Megatron sequence parallelism with tp per layer; --no-sp leaves it out' })
    .option('selective-recompute', { type: 'boolean', default: true, describe: 'Search selective recomputation (attention core only) per layer; --no-selective-recompute leaves it out' })
    .option('max-cp', { type: 'number', describe: `Largest context-parallel (Ulysses) degree searched per layer (default: 8 from ${LONG_SEQUENCE} tokens on, else 1); --max-cp 1 leaves it out` })
    .option('seq-length', SEQ_LENGTH_OPTION)
    .check((a) => {
      const argv = a as unknown as PlanningArgs;
      if (argv['max-cp'] !== undefined && (!Number.isInteger(argv['max-cp']) || argv['max-cp'] < 1)) throw new Error(`--max-cp must be a positive integer, got ${argv['max-cp']}`);
      if (argv.batch !== undefined && (!Number.isInteger(argv.batch) || argv.batch < 1)) throw new Error(`--batch must be a positive integer, got ${argv.batch}`);
      if (argv['memory-gb'] !== undefined && !(argv['memory-gb'] > 0)) throw new Error(`--memory-gb must be positive, got ${argv['memory-gb']}`);
      checkSeqLength(argv['seq-length']);
      return true;
    });
}

/** `extra` adds options that depend on the cluster (e.g. the TP degrees a plan to estimate uses). */
export function planningInput(
  argv: PlanningArgs,
  batchOverride?: number,
  extra: (cluster: ClusterSpec) => Partial<CostModelOptions> = () => ({}),
): CostModelInput {
  const model = loadModel(argv.model, argv['seq-length']);
  const profile = argv.profile ? loadProfile(argv.profile) : undefined;
  let cluster;
  if (argv.cluster) cluster = loadCluster(argv.cluster);
  else if (profile?.cluster) cluster = clusterFromProfile(profile);
  else {
    throw new UniapError('CONFIG_INVALID', 'no cluster given; pass --cluster NAME (see `uniap clusters`) or an imported --profile that carries its cluster');
  }
  const batch = batchOverride ?? argv.batch;
  const options: Partial<CostModelOptions> = {
    allowCrossNodeTp: argv['allow-cross-node-tp'] ?? false,
    allowZero: argv.zero ?? true,
    allowSp: argv.sp ?? true,
    allowSelectiveRecompute: argv['selective-recompute'] ?? true,
    ...(argv['max-cp'] !== undefined ? { maxCp: argv['max-cp'] } : {}),
    ...extra(cluster),
  };
  if (argv['memory-gb'] !== undefined) options.memoryBudgetBytes = argv['memory-gb'] * 1024 ** 3;
  return prepareCostModel(model, cluster, { globalBatch: batch, ...(profile ? { profile } : {}), options });
}
