// CostModelInput: everything the cost model reads, resolved once. `prepareCostModel` picks the
// profile: a given (measured/imported) one, or one derived from the cluster's datasheets for every
// micro-batch size and tensor-parallel degree the search can ask for.
import type { ModelSpec } from '../../configs/model-spec.ts';
import type { ClusterSpec } from '../../configs/cluster-spec.ts';
import { totalDevices, isHomogeneous } from '../../configs/cluster-spec.ts';
import type { Profile } from '../../profiler/profile.ts';
import { deriveSpecProfile } from '../../profiler/spec-profile.ts';
import { UniapError } from '../../common/errors.ts';
import { divisors } from './math.ts';

export interface CostModelOptions {
  /** Allow tensor-parallel groups that span nodes (default false: TP stays inside a node). */
  allowCrossNodeTp: boolean;
  /** Override of the usable memory per device in bytes (--memory-gb). */
  memoryBudgetBytes?: number;
  /** Strategy switches (all on by default). */
  allowFsdp: boolean;
  /** ZeRO-1 and ZeRO-2 (optimizer states / and gradients sharded over dp) as per-layer choices. */
  allowZero: boolean;
  /** Full recomputation (keep only each layer's input). */
  allowRecompute: boolean;
  /** Selective recomputation (the attention core only, Megatron-LM's `selective`). */
  allowSelectiveRecompute: boolean;
  /** Megatron sequence parallelism with tp > 1 on the blocks that support it. */
  allowSp: boolean;
  /** Largest tensor-parallel degree considered (default: devices per node). */
  maxTp?: number;
  /**
   * Largest context-parallel (Ulysses) degree considered; 1 leaves context parallelism out. Default
   * (`defaultMaxCp`): 8 for sequences of LONG_SEQUENCE tokens or more, else 1.
   */
  maxCp: number;
  /**
   * Offer cp only where the micro-batch has too few rows for dp x cp data parallelism (the search's
   * restriction, planner/cost-model/build.ts); false offers every cp (estimate of a given plan).
   */
  cpOnlyWhereDpCannot?: boolean;
}

/**
 * Sequences from this length on get context parallelism searched by default. Below it activations
 * rarely bind and cp's all-to-alls rarely pay, while the larger space weakens the configuration
 * bounds (docs/planner.md S3'': Llama-2-70B at 4k tokens on 64 H100, the same optimum in 6.7 s
 * without cp and 20.8 s with it); `--max-cp` decides either way.
 */
export const LONG_SEQUENCE = 8192;

/** maxCp when the caller does not say: 8 for long sequences, else 1 (LONG_SEQUENCE). */
export function defaultMaxCp(model: ModelSpec): number {
  return Math.max(...model.layers.map((l) => l.seqLength)) >= LONG_SEQUENCE ? 8 : 1;
}

export const DEFAULT_COST_MODEL_OPTIONS: CostModelOptions = {
  allowCrossNodeTp: false,
  allowFsdp: true,
  allowZero: true,
  allowRecompute: true,
  allowSelectiveRecompute: true,
  allowSp: true,
  maxCp: 8,
};

export interface CostModelInput {
  model: ModelSpec;
  cluster: ClusterSpec;
  profile: Profile;
  globalBatch: number;
  options: CostModelOptions;
}

export function devicesPerNode(cluster: ClusterSpec): number {
  return cluster.nodes[0]?.devices ?? 0;
}

/** The largest tensor-parallel degree `options` allow on a group of g devices. */
function tpCap(cluster: ClusterSpec, g: number, options: CostModelOptions): number {
  return options.maxTp ?? (options.allowCrossNodeTp ? g : devicesPerNode(cluster));
}

/** Tensor-parallel degrees a stage of `g` devices may use under `options`. */
export function tpDegreesFor(cluster: ClusterSpec, g: number, options: CostModelOptions): number[] {
  return divisors(g).filter((t) => t <= tpCap(cluster, g, options));
}

/**
 * Validate the global inputs and attach a profile. Without `profile`, derive one from datasheets for
 * every per-device micro-batch size (divisors of the global batch) and every TP degree.
 */
export function prepareCostModel(
  model: ModelSpec,
  cluster: ClusterSpec,
  args: { globalBatch: number; profile?: Profile; options?: Partial<CostModelOptions> },
): CostModelInput {
  const options: CostModelOptions = { ...DEFAULT_COST_MODEL_OPTIONS, maxCp: defaultMaxCp(model), ...stripUndefined(args.options ?? {}) };
  const B = args.globalBatch;
  if (!Number.isInteger(B) || B < 1) {
    throw new UniapError('CONFIG_INVALID', `global batch ${B} is not a positive integer; pass --batch with a whole number >= 1`);
  }
  if (!isHomogeneous(cluster)) {
    const kinds = [...new Set(cluster.nodes.map((n) => `${n.devices}x ${n.deviceType.name}`))].join(', ');
    throw new UniapError(
      'UNSUPPORTED',
      `cluster ${cluster.name} is heterogeneous (${kinds}); the planner supports clusters whose nodes have the same device type and count — plan each homogeneous part separately`,
    );
  }
  const n = totalDevices(cluster);
  const profile =
    args.profile ??
    deriveSpecProfile(model, cluster, {
      microBatches: divisors(B),
      tpDegrees: tpDegreesFor(cluster, n, options),
    });
  if (args.profile?.cluster) {
    const pc = args.profile.cluster;
    if (pc.nodes * pc.devicesPerNode !== n) {
      throw new UniapError(
        'DEGREE_MISMATCH',
        `profile describes ${pc.nodes} x ${pc.devicesPerNode} devices but cluster ${cluster.name} has ${n}; pass the matching --cluster or leave --cluster out to use the profile's`,
      );
    }
  }
  return { model, cluster, profile, globalBatch: B, options };
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
