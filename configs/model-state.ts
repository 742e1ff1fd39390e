// Bytes of model states (weights, gradients, optimizer states) per parameter: the one definition the
// cost model (planner/cost-model/memory.ts), `uniap describe` and the docs use, matched to what the
// executor allocates (runtime/executor/uniap_exec/runner.py) and to a Megatron-LM setting.
//
// 16-bit training (bf16/fp16), AdamW, replicated over data parallelism: 18 bytes per parameter =
//   2 (16-bit compute copy of the weights) + 4 (fp32 gradients, accumulated over micro-batches and
//   all-reduced in fp32) + 12 (fp32 master weights 4, Adam momentum 4, variance 4).
// This is Megatron-LM's `--bf16` with its default `--accumulate-allreduce-grads-in-fp32` ("bf16 param,
// fp32 grads": 18 bytes, or 6 + 12/d with `--use-distributed-optimizer`; NVIDIA/Megatron-LM
// docs/source/api-guide/dist_optimizer.md). The executor keeps the fp32 flat master tensor, its fp32
// gradient, Adam's two fp32 moments and one bf16 copy per step: 18.
// Fully sharded (ZeRO-3 / FSDP, Rajbhandari et al. 2020 sec. 5.3; PyTorch FSDP2's MixedPrecisionPolicy
// with param_dtype bf16, reduce_dtype fp32): each rank keeps 1/d of the fp32 master weights, gradients
// and moments (16/d); the 16-bit weights are gathered per use and freed, a transient the cost model
// charges as workspace (planner/cost-model/layer-cost.ts), not as state.
// ZeRO-1 / ZeRO-2 (runtime/executor/uniap_exec/runner.py): the full 16-bit weights (2), the fp32
// gradient kept whole (4, ZeRO-1, Megatron's main_grad) or as a 1/d shard (ZeRO-2), and 1/d of the
// fp32 master weights and moments (12/d): 6 + 12/d and 2 + 16/d, Megatron-LM's distributed optimizer
// for ZeRO-1. In fp32 training the master shard is a view of the weights: 8 + 8/d and 4 + 12/d.
// fp32 training (CPU): 4 (weights) + 4 (gradients) + 8 (moments) = 16, sharded the same way.
import type { DType } from './model-spec.ts';

export interface StateBytesPerParameter {
  /** Weights kept between steps: the 16-bit compute copy (16-bit training) or the fp32 weights (fp32). */
  weight: number;
  gradient: number;
  /** Optimizer states: Adam's moments, plus the fp32 master weights in 16-bit training. */
  optimizer: number;
}

/** Per-parameter state bytes of a replicated (not fully sharded) layer. */
export function stateBytesPerParameter(dtype: DType): StateBytesPerParameter {
  return dtype === 'fp32' ? { weight: 4, gradient: 4, optimizer: 8 } : { weight: 2, gradient: 4, optimizer: 12 };
}

/** Per-parameter state bytes of a fully sharded layer, before dividing by the shard count. */
export function shardedStateBytesPerParameter(dtype: DType): StateBytesPerParameter {
  // The fp32 master weights are the weights; no persistent 16-bit copy.
  return dtype === 'fp32' ? { weight: 4, gradient: 4, optimizer: 8 } : { weight: 4, gradient: 4, optimizer: 8 };
}

/** Unsharded model-state bytes per parameter (18 for 16-bit training, 16 for fp32). */
export function modelStateBytesPerParameter(dtype: DType): number {
  const s = stateBytesPerParameter(dtype);
  return s.weight + s.gradient + s.optimizer;
}

// ZeRO (Rajbhandari et al. 2020, "ZeRO: Memory Optimizations Toward Training Trillion Parameter
// Models", sec. 5) shards the states over N data-parallel ranks: stage 1 the optimizer states
// (Megatron's distributed optimizer: 6P + 12P/N), stage 2 also the gradients (2P + 16P/N), stage 3
// (FSDP) everything, and the 16-bit copy is then gathered per use instead of kept (16P/N).
export type ZeroStage = 0 | 1 | 2 | 3;

export interface ModelStateBytes {
  weightBytes: number;
  gradientBytes: number;
  optimizerBytes: number;
  totalBytes: number;
}

/**
 * Model states of `parameters` parameters (already divided by the TP degree) on one device of a
 * data-parallel group of `dp` ranks under ZeRO stage `zero`.
 */
export function modelStateBytes(parameters: number, dtype: DType, zero: ZeroStage, dp: number): ModelStateBytes {
  const per = zero >= 3 ? shardedStateBytesPerParameter(dtype) : stateBytesPerParameter(dtype);
  const weightBytes = (zero >= 3 ? parameters / dp : parameters) * per.weight;
  const gradientBytes = (zero >= 2 ? parameters / dp : parameters) * per.gradient;
  const optimizerBytes = (zero >= 1 ? parameters / dp : parameters) * per.optimizer;
  return { weightBytes, gradientBytes, optimizerBytes, totalBytes: weightBytes + gradientBytes + optimizerBytes };
}
