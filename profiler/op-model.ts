// A layer's forward and backward time from its operators, for the datasheet profile: GEMMs at an
// efficiency that depends on their shape, attention (FlashAttention or the unfused softmax path),
// memory-bound operators (norms, activations, dropout, residuals, rotary, cross-entropy, embedding
// gathers) at memory bandwidth, and a floor per kernel launch. The operator list of a transformer
// block follows Megatron-LM's (Shoeybi et al. 2019, arXiv 1909.08053, fig. 3; Korthikanti et al.
// 2022, arXiv 2205.05198, sec. 4.1): per tp rank, QKV GEMM, attention core, output projection, the MLP
// GEMMs (gelu: 2; swiglu: 3, the gate and up GEMMs fused as one of width 2f/t), two norms, two
// residual adds, the activation, and dropouts where the architecture has them.
//
// Roofline per kernel (Williams et al. 2009): time = max(FLOPs / (peak x efficiency), bytes /
// (bandwidth x memory efficiency), launch floor).
// - GEMM efficiency: effMax x m / (m + gemmHalfDim), m the GEMM's smallest dimension. effMax is the
//   Maximum Achievable Matmul FLOPS over peak for large bf16 GEMMs (stas00/ml-engineering,
//   compute/accelerator/README.md, MAMF table: A100 SXM 267.9 of 312 = 0.859, H100 SXM 792.1 of 989 =
//   0.801); small dimensions (small micro-batches, high tp) lose tile and wave efficiency (Anthony et
//   al. 2024, "The Case for Co-Designing Model Architectures with Hardware", arXiv 2401.14489, sec.
//   4-5); the saturating form and its half-efficiency dimension are this model's, a fitted factor.
// - FlashAttention (Dao 2023, arXiv 2307.08691): causal masking skips half the score blocks; backward
//   does 2.5x the forward's matmul FLOPs (5 matmuls vs 2); efficiency: FlashAttention-2 forward reaches
//   up to 0.73 of A100 peak, backward 0.63 (ibid. sec. 4.1) and ~0.35 of H100 peak (Shah et al. 2024,
//   FlashAttention-3, arXiv 2407.08608, sec. 4.1), while the cuDNN/FA3 kernels Megatron-Core uses on
//   H100 reach 0.6-0.75 (ibid.): defaults 0.6 (A100) and 0.55 (H100/H200) for the forward, x 0.85
//   for the backward.
// - Memory-bound operators move their inputs and outputs once (fp32 statistics neglected); backward
//   moves about twice the forward's bytes (reads the saved input and the incoming gradient, writes the
//   input gradient).
// - Launch floor: a kernel takes at least ~4 us (CUDA launch overhead and tail of a short kernel;
//   NVIDIA developer blog "Getting Started with CUDA Graphs", 2019: "a few microseconds" per launch).
import type { LayerSpec } from '../configs/model-spec.ts';
import { dtypeBytes, isPooledHead, kvWidth, qWidth } from '../configs/model-derive.ts';
import { tpSplitsCompute } from '../configs/model-tp.ts';

export interface OpFactors {
  /** Peak FLOPS the GEMMs can use (TFLOPS): the 16-bit tensor peak or fp32. */
  peakTflops: number;
  /** Large-GEMM efficiency (MAMF / peak). */
  gemmEfficiency: number;
  /** Smallest GEMM dimension at which efficiency is half of gemmEfficiency. */
  gemmHalfDim: number;
  /** FlashAttention forward efficiency (of peak); backward is x 0.85. */
  attentionEfficiency: number;
  /** Memory bandwidth, GB/s, and the fraction of it streaming kernels reach. */
  memoryBandwidthGBps: number;
  memoryEfficiency: number;
  /** Shortest kernel, µs. */
  launchFloorUs: number;
  /** FlashAttention (no s x s score matrix) or the unfused softmax path. */
  flashAttention: boolean;
  /** Architecture has dropout after attention and MLP (GPT-style; Llama-style trains without). */
  dropout: boolean;
}

/** One kernel of a layer's forward: FLOPs and bytes moved, and what kind of kernel it is. */
export interface Op {
  name: string;
  kind: 'gemm' | 'attention' | 'memory';
  flops: number;
  bytes: number;
  /** GEMMs: the smallest of M, N, K. */
  minDim?: number;
  /** Backward FLOPs (or bytes for memory ops) as a multiple of the forward's. */
  backwardFactor: number;
}

const gemm = (name: string, m: number, n: number, k: number, B: number): Op => ({
  name, kind: 'gemm', flops: 2 * m * n * k, bytes: B * (m * k + k * n + m * n), minDim: Math.min(m, n, k), backwardFactor: 2,
});
const mem = (name: string, elements: number, B: number): Op => ({ name, kind: 'memory', flops: 0, bytes: elements * B, backwardFactor: 2 });

/**
 * The forward kernels of `layer` for `microBatch` samples on one rank of a tp group of `tp`.
 * Transformer blocks (encoder, decoder, cross-decoder, swin) and the LM head are broken down; other
 * layers (embedding, patch embedding) are a gather or one GEMM.
 */
export function layerOps(l: LayerSpec, microBatch: number, tp: number, f: Pick<OpFactors, 'flashAttention' | 'dropout'>): Op[] {
  const B = dtypeBytes(l.dtype);
  const T = microBatch * l.seqLength; // tokens of the micro-batch
  const t = tpSplitsCompute(l) ? tp : 1;
  const h = l.hiddenSize;
  const ops: Op[] = [];
  const attention = (label: string, sq: number, skv: number, causal: boolean) => {
    const heads = l.heads / t;
    const d = l.headDim;
    const fullFlops = 4 * microBatch * heads * sq * skv * d; // QK^T and AV
    if (f.flashAttention) {
      const done = causal ? fullFlops / 2 : fullFlops;
      const io = B * microBatch * (2 * sq * heads * d + 2 * skv * (l.kvHeads / t) * d);
      ops.push({ name: `${label} (flash)`, kind: 'attention', flops: done, bytes: io, backwardFactor: 2.5 });
    } else {
      ops.push({ name: `${label} QK^T`, kind: 'gemm', flops: fullFlops / 2, bytes: B * microBatch * heads * (2 * sq * d + sq * skv), minDim: Math.min(sq, skv, d), backwardFactor: 2 });
      const scores = microBatch * heads * sq * skv;
      ops.push(mem(`${label} softmax`, 2 * scores, B));
      if (f.dropout) ops.push(mem(`${label} dropout`, 2.5 * scores, B));
      ops.push({ name: `${label} AV`, kind: 'gemm', flops: fullFlops / 2, bytes: B * microBatch * heads * (2 * sq * d + sq * skv), minDim: Math.min(sq, skv, d), backwardFactor: 2 });
    }
  };
  const block = (withCross: boolean) => {
    const q = qWidth(l) / t;
    const kv = kvWidth(l) / t;
    ops.push(mem('norm 1', 2 * T * h, B));
    ops.push(gemm('QKV', T, q + 2 * kv, h, B));
    if (l.positionEmbedding === 'rope') ops.push(mem('rotary', 2 * T * (q + kv), B));
    attention('self-attention', l.seqLength, l.attentionSpan, l.type === 'decoder' || l.type === 'cross-decoder');
    ops.push(gemm('attention output', T, h, q, B));
    if (f.dropout) ops.push(mem('dropout 1', 2.5 * T * h, B));
    ops.push(mem('residual 1', 3 * T * h, B));
    if (withCross) {
      const Te = microBatch * l.encoderSeqLength;
      ops.push(mem('norm cross', 2 * T * h, B));
      ops.push(gemm('cross Q', T, q, h, B));
      ops.push(gemm('cross KV', Te, 2 * kv, h, B));
      attention('cross-attention', l.seqLength, l.encoderSeqLength, false);
      ops.push(gemm('cross output', T, h, q, B));
      ops.push(mem('residual cross', 3 * T * h, B));
    }
    const ff = l.ffnSize / t;
    ops.push(mem('norm 2', 2 * T * h, B));
    if (l.activation === 'swiglu') {
      ops.push(gemm('MLP gate+up', T, 2 * ff, h, B));
      ops.push(mem('swiglu', 3 * T * ff, B));
    } else {
      ops.push(gemm('MLP up', T, ff, h, B));
      ops.push(mem('gelu', 2 * T * ff, B));
    }
    ops.push(gemm('MLP down', T, h, ff, B));
    if (f.dropout) ops.push(mem('dropout 2', 2.5 * T * h, B));
    ops.push(mem('residual 2', 3 * T * h, B));
    if (l.patchMerging) ops.push(gemm('patch merging', T, h, 4 * l.inputHiddenSize, B));
  };
  switch (l.type) {
    case 'encoder':
    case 'decoder':
    case 'swin':
      block(false);
      break;
    case 'cross-decoder':
      block(true);
      break;
    case 'head': {
      const rows = isPooledHead(l) ? microBatch : T;
      ops.push(mem('final norm', 2 * T * h, B));
      if (l.headTransform) ops.push(gemm('head transform', T, h, h, B), mem('head gelu', 2 * T * h, B));
      const V = l.vocabSize / t;
      ops.push(gemm('LM head', rows, V, h, B));
      // Vocab-parallel cross entropy in fp32: read the logits, write fp32 softmax (Megatron-LM
      // megatron/core/tensor_parallel/cross_entropy.py), then the backward reads it again.
      ops.push({ name: 'cross entropy', kind: 'memory', flops: 0, bytes: rows * V * (B + 4 + 4), backwardFactor: 1 });
      break;
    }
    case 'embedding':
      // Gather rows of the table (and learned positions), write the hidden states.
      ops.push(mem('embedding gather', (l.positionEmbedding === 'learned' ? 3 : 2) * T * h, B));
      if (f.dropout) ops.push(mem('embedding dropout', 2.5 * T * h, B));
      break;
    case 'patch-embedding': {
      const patches = (l.imageSize / l.patchSize) ** 2;
      ops.push(gemm('patchify', microBatch * patches, h, l.channels * l.patchSize * l.patchSize, B));
      break;
    }
  }
  return ops;
}

/** Time of one kernel, ms: the roofline of its FLOPs and bytes, never below the launch floor. */
export function opMs(op: Op, f: OpFactors, backward: boolean): number {
  const scale = backward ? op.backwardFactor : 1;
  let eff = 1;
  if (op.kind === 'gemm') eff = f.gemmEfficiency * (op.minDim! / (op.minDim! + f.gemmHalfDim));
  else if (op.kind === 'attention') eff = f.attentionEfficiency * (backward ? 0.85 : 1);
  const computeMs = op.flops > 0 ? ((scale * op.flops) / (f.peakTflops * 1e12 * eff)) * 1e3 : 0;
  // GEMM backward rereads its inputs for each of the two products: bytes scale like FLOPs.
  const bytesMs = ((scale * op.bytes) / (f.memoryBandwidthGBps * 1e9 * f.memoryEfficiency)) * 1e3;
  const kernels = backward && op.kind !== 'memory' ? Math.ceil(scale) : 1;
  return Math.max(computeMs, bytesMs, (kernels * f.launchFloorUs) / 1e3);
}

/** Forward and backward time of a layer from its kernels, ms. */
export function layerTimesMs(l: LayerSpec, microBatch: number, tp: number, f: OpFactors): { forwardMs: number; backwardMs: number } {
  const ops = layerOps(l, microBatch, tp, f);
  let forwardMs = 0;
  let backwardMs = 0;
  for (const op of ops) {
    forwardMs += opMs(op, f, false);
    backwardMs += opMs(op, f, true);
  }
  return { forwardMs, backwardMs };
}
