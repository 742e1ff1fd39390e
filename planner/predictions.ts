// Throughput and MFU of an evaluated placement. MFU counts model FLOPs only (recomputation is not
// useful work): model FLOPs per iteration / (time * devices * peak), as in Chowdhery et al. 2022
// (PaLM, arXiv 2204.02311, appendix B).
import type { ModelSpec } from '../configs/model-spec.ts';
import type { ClusterSpec } from '../configs/cluster-spec.ts';
import { totalDevices } from '../configs/cluster-spec.ts';
import { modelFlopsPerSample, tokensPerSample } from '../configs/model-derive.ts';
import type { PlanPredictions } from './plan.ts';
import type { PlacementEvaluation } from './cost-model/tables.ts';

/** Peak dense FLOP/s of one device for the model's dtype (16-bit tensor cores when it has them). */
export function peakFlopsPerDevice(model: ModelSpec, cluster: ClusterSpec): number {
  const dev = cluster.nodes[0]!.deviceType;
  const tflops = model.dtype !== 'fp32' && dev.peakTflops16 > 0 ? dev.peakTflops16 : dev.peakTflops32;
  return tflops * 1e12;
}

export function predictions(
  model: ModelSpec,
  cluster: ClusterSpec,
  globalBatch: number,
  evaluation: PlacementEvaluation,
  usableMemoryBytes: number,
): PlanPredictions {
  const seconds = evaluation.timePerIterationMs / 1000;
  const samplesPerSecond = globalBatch / seconds;
  const flops = modelFlopsPerSample(model) * globalBatch;
  const mfu = flops / (seconds * totalDevices(cluster) * peakFlopsPerDevice(model, cluster));
  return {
    timePerIterationMs: evaluation.timePerIterationMs,
    samplesPerSecond,
    tokensPerSecond: samplesPerSecond * tokensPerSample(model),
    mfu,
    memoryPerStageBytes: evaluation.memoryPerStageBytes,
    usableMemoryBytes,
  };
}
