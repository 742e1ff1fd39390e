// Model-state memory (weights, gradients, optimizer states) per device.
//
// Mixed-precision Adam keeps 16 bytes per parameter: 2 (16-bit weights) + 2 (16-bit gradients) +
// 12 (fp32 master weights, momentum, variance). ZeRO (Rajbhandari et al. 2020, "ZeRO: Memory
// Optimizations Toward Training Trillion Parameter Models", sec. 5) shards them over N data-parallel
// ranks: stage 1 optimizer states (4P + 12P/N), stage 2 also gradients (2P + 14P/N), stage 3 (FSDP)
// everything (16P/N). With fp32 training (CPU) Adam keeps 4 (weights) + 4 (gradients) + 8 (m, v):
// also 16 bytes per parameter, sharded the same way.
import type { DType } from '../../configs/model-spec.ts';

export type ZeroStage = 0 | 1 | 2 | 3;

export interface ModelStateBytes {
  weightBytes: number;
  gradientBytes: number;
  optimizerBytes: number;
  totalBytes: number;
}

/** Bytes per parameter of (weights, gradients, optimizer states) for a training dtype. */
export function stateBytesPerParameter(dtype: DType): { weight: number; gradient: number; optimizer: number } {
  return dtype === 'fp32' ? { weight: 4, gradient: 4, optimizer: 8 } : { weight: 2, gradient: 2, optimizer: 12 };
}

/**
 * Model states of `parameters` parameters (already divided by the TP degree) on one device of a
 * data-parallel group of `dp` ranks under ZeRO stage `zero`.
 */
export function modelStateBytes(parameters: number, dtype: DType, zero: ZeroStage, dp: number): ModelStateBytes {
  const per = stateBytesPerParameter(dtype);
  const weightBytes = (zero >= 3 ? parameters / dp : parameters) * per.weight;
  const gradientBytes = (zero >= 2 ? parameters / dp : parameters) * per.gradient;
  const optimizerBytes = (zero >= 1 ? parameters / dp : parameters) * per.optimizer;
  return { weightBytes, gradientBytes, optimizerBytes, totalBytes: weightBytes + gradientBytes + optimizerBytes };
}
