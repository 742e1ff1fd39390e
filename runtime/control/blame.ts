// Who is at fault: the pure rules that turn a silent worker, an executor's error or exit, or a changed
// plan into one Failure naming the worker and the rank. When ranks fail together (one breaks, its
// peers' collectives break after it), the earliest reported error is the cause.
import { ranksOf, type JobRecord } from './job-state.ts';
import type { WorkerRecord } from './job-store.ts';
import type { Failure, RankAssignment } from './types.ts';

/** Worker states in which a member can take part in a job (and must keep sending heartbeats). */
export const ALIVE: ReadonlySet<string> = new Set(['connecting', 'idle', 'starting', 'running', 'stopping']);

export function rankRange(ranks: RankAssignment[]): string {
  if (ranks.length === 0) return 'no ranks';
  const rs = ranks.map((r) => r.rank).sort((a, b) => a - b);
  return rs.length === 1 ? `rank ${rs[0]}` : `ranks ${rs[0]}-${rs[rs.length - 1]}`;
}

/**
 * Why a member counts as lost at `nowMs`, or null while it is not: silent for longer than the timeout,
 * counting from its last heartbeat or from `graceFromMs` (a restarted coordinator gives every member
 * one timeout to reconnect), whichever is later.
 */
export function heartbeatVerdict(w: WorkerRecord, nowMs: number, graceFromMs: number, timeoutMs: number): string | null {
  if (!ALIVE.has(w.state)) return null;
  const silentMs = nowMs - Math.max(w.lastHeartbeatAtMs, graceFromMs);
  return silentMs > timeoutMs ? `stopped answering heartbeats for ${silentMs} ms (timeout ${timeoutMs} ms)` : null;
}

/** The failure of a job one of whose workers was lost: names the worker, its host and its ranks. */
export function lostWorkerFailure(job: JobRecord, w: Pick<WorkerRecord, 'workerId' | 'host'>, why: string): Failure {
  return { code: 'WORKER_LOST', message: `worker ${w.workerId} (${w.host}, ${rankRange(ranksOf(job, w.workerId))}) ${why}`, workerId: w.workerId, rank: null };
}

/** A worker runs (or wrote) a plan other than the job's: the plan changed on the way. */
export function planMismatchFailure(job: JobRecord, workerId: string, reportedSha256: string, how: string): Failure {
  return {
    code: 'RUNTIME_FAILED',
    message: `worker ${workerId}${how} a plan with sha256 ${reportedSha256.slice(0, 12)}..., not the job's ${job.planSha256.slice(0, 12)}...; the plan was changed on the way`,
    workerId,
    rank: null,
  };
}

/**
 * Records a rank's error; while the job is already failing for another rank's executor, an error older
 * than the one blamed so far (it came through another worker, later) becomes the cause.
 */
export function blameRankError(job: JobRecord, rank: number, workerId: string, message: string, timeMs: number): JobRecord {
  const key = String(rank);
  const rankErrors = key in job.rankErrors ? job.rankErrors : { ...job.rankErrors, [key]: { message, workerId, timeMs } };
  const next = { ...job, rankErrors };
  const blamed = job.pending?.failure;
  if (job.pending?.state === 'failed' && blamed?.code === 'RUNTIME_FAILED' && blamed.rank !== rank) {
    const blamedAt = blamed.rank !== null ? rankErrors[String(blamed.rank)]?.timeMs : undefined;
    if (blamedAt === undefined || timeMs < blamedAt) {
      const cause: Failure = { code: 'RUNTIME_FAILED', message: `rank ${rank} on worker ${workerId} failed: ${message}; then ${blamed.message}`, workerId, rank };
      return { ...next, pending: { state: 'failed', failure: cause }, failure: cause };
    }
  }
  return next;
}

/** The failure for an abnormal executor exit: the earliest reported error's rank is blamed, whichever exit arrives first. */
export function exitFailure(job: JobRecord, rank: number, workerId: string, code: number | null, signal: string | null, pid: number): Failure {
  const how = code === null ? `was killed by ${signal ?? 'a signal'}` : `exited with code ${code}`;
  const own = job.rankErrors[String(rank)];
  const exited = `rank ${rank} on worker ${workerId} (pid ${pid}) ${how}`;
  const first = Object.entries(job.rankErrors).sort(([ra, a], [rb, b]) => a.timeMs - b.timeMs || Number(ra) - Number(rb))[0];
  if (first && Number(first[0]) !== rank && (!own || first[1].timeMs < own.timeMs)) {
    const [firstRank, err] = first;
    return {
      code: 'RUNTIME_FAILED',
      message: `rank ${firstRank} on worker ${err.workerId} failed: ${err.message}; then ${exited}${own ? `: ${own.message}` : ''}`,
      workerId: err.workerId,
      rank: Number(firstRank),
    };
  }
  return { code: 'RUNTIME_FAILED', message: `${exited}${own ? `: ${own.message}` : '; its log lines are in the job events'}`, workerId, rank };
}

/**
 * A lost worker is the root cause of whatever its peers report afterwards (their collectives break),
 * so while a job is already failing for an executor error, the loss replaces it in the message.
 */
export function mergeLostWorker(pending: JobRecord['pending'], failure: Failure): Failure | null {
  if (failure.code !== 'WORKER_LOST' || pending?.state !== 'failed' || pending.failure?.code === 'WORKER_LOST') return null;
  const earlier = pending.failure;
  return { ...failure, message: earlier ? `${failure.message}; before that: ${earlier.message}` : failure.message };
}
