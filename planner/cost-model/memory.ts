// Model-state memory (weights, gradients, optimizer states) per device. Bytes per parameter are
// defined once in configs/model-state.ts (18 for bf16 AdamW as Megatron-LM --bf16 keeps them, 16 for
// fp32). ZeRO (Rajbhandari et al. 2020, "ZeRO: Memory Optimizations Toward Training Trillion Parameter
// Models", sec. 5) shards them over N data-parallel ranks: stage 1 the optimizer states (Megatron's
// distributed optimizer: 6P + 12P/N), stage 2 also the gradients (2P + 16P/N), stage 3 (FSDP)
// everything, and the 16-bit copy is then gathered per use instead of kept (16P/N).
import type { DType } from '../../configs/model-spec.ts';
import { shardedStateBytesPerParameter, stateBytesPerParameter } from '../../configs/model-state.ts';

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
