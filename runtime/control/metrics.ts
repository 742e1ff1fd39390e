// Per-iteration metrics: folding every rank's `step` report into one StepSummary.
import type { StepMetrics, StepSummary } from './types.ts';

/**
 * One iteration over all ranks (`ranks[r]` = rank r's report). An iteration ends when the slowest rank
 * ends, so time is the max; the loss is the mean over ranks that report one (the last pipeline stage;
 * its data-parallel replicas report the same global loss). Samples per iteration come from the plan
 * (the global batch); tokens per sample from the executors' own counts (tokens / samples of any rank
 * that reports both), so the rate does not depend on how ranks split the batch.
 */
export function summarizeStep(ranks: StepMetrics[], globalBatch: number): StepSummary {
  const present = ranks.filter((r): r is StepMetrics => r !== undefined && r !== null);
  if (present.length === 0) throw new Error('summarizeStep: no rank reported');
  const step = present[0]!.step;
  const losses = present.map((r) => r.loss).filter((l): l is number => l !== null && Number.isFinite(l));
  const timeMs = Math.max(...present.map((r) => r.timeMs));
  const withTokens = present.find((r) => r.samples > 0 && r.tokens > 0);
  const tokensPerSample = withTokens ? withTokens.tokens / withTokens.samples : 0;
  const perSecond = timeMs > 0 ? 1000 / timeMs : 0;
  return {
    step,
    loss: losses.length > 0 ? losses.reduce((a, b) => a + b, 0) / losses.length : null,
    timePerIterationMs: timeMs,
    computeMs: Math.max(...present.map((r) => r.computeMs)),
    exposedCommMs: Math.max(...present.map((r) => r.exposedCommMs)),
    samplesPerSecond: globalBatch * perSecond,
    tokensPerSecond: globalBatch * tokensPerSample * perSecond,
    memoryBytesPerRank: ranks.map((r) => r?.memoryBytes ?? 0),
  };
}
