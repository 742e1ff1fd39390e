// What the coordinator reports about its records: the status views of workers and jobs.
import type { JobRecord } from './job-state.ts';
import type { WorkerRecord } from './job-store.ts';
import type { JobStatus, WorkerStatus } from './types.ts';

export function workerStatus(w: WorkerRecord): WorkerStatus {
  return {
    workerId: w.workerId,
    host: w.host,
    address: w.address,
    state: w.state,
    devices: w.devices,
    lastHeartbeatAtMs: w.lastHeartbeatAtMs,
    jobId: w.jobId,
    nodeRank: w.nodeRank,
  };
}

export function jobStatus(j: JobRecord): JobStatus {
  return {
    jobId: j.jobId,
    state: j.state,
    attempt: j.attempt,
    worldSize: j.worldSize,
    steps: j.options.steps,
    lastStep: j.lastStep,
    lastCheckpointStep: j.lastCheckpointStep,
    planSha256: j.planSha256,
    modelName: j.modelName,
    predictedTimePerIterationMs: j.predictedTimePerIterationMs,
    ranks: j.ranks,
    failure: j.failure,
    lastMetrics: j.lastMetrics,
    restarts: j.restarts,
    masterAddr: j.masterAddr,
    masterPort: j.masterPort,
    createdAtMs: j.createdAtMs,
    updatedAtMs: j.updatedAtMs,
  };
}
