// The error hierarchy every layer throws for user-facing problems: a stable code that tests assert
// on, and a one-line message that names the problem and the fix. The CLI prints `message` alone
// (no stack trace) and exits with `exitCode`.

export type ErrorCode =
  | 'CONFIG_INVALID' // a spec/plan/profile file does not validate
  | 'FILE_NOT_FOUND' // a path given by the user does not exist
  | 'UNKNOWN_PRESET' // a preset name that is not built in
  | 'UNSUPPORTED' // a model architecture / feature we do not handle
  | 'DEGREE_MISMATCH' // parallel degrees that do not multiply/divide as required
  | 'PROFILE_MISSING' // the profile lacks an entry the cost model needs
  | 'INFEASIBLE' // no plan fits the devices
  | 'SOLVER_FAILED' // a backend crashed, timed out or returned a wrong answer
  | 'TOOL_MISSING' // python / torch / redis-server not installed
  | 'WORKER_LOST' // runtime: a worker stopped answering
  | 'UNAUTHENTICATED' // runtime: bad or missing job token
  | 'RUNTIME_FAILED'; // runtime: an executor process failed

export class UniapError extends Error {
  readonly code: ErrorCode;
  readonly exitCode: number;
  /** Structured detail for --json output and tests (never needed to understand the message). */
  readonly detail: Record<string, unknown>;
  constructor(code: ErrorCode, message: string, detail: Record<string, unknown> = {}, exitCode = 2) {
    super(message);
    this.name = 'UniapError';
    this.code = code;
    this.detail = detail;
    this.exitCode = exitCode;
  }
}

/** A value in a JSON file failed validation: `file: at $.path: problem; fix`. */
export class ConfigError extends UniapError {
  readonly file: string;
  readonly jsonPath: string;
  constructor(file: string, jsonPath: string, problem: string, fix: string) {
    super('CONFIG_INVALID', `${file}: at ${jsonPath}: ${problem}; ${fix}`, { file, jsonPath, problem, fix });
    this.file = file;
    this.jsonPath = jsonPath;
  }
}

export function isUniapError(e: unknown): e is UniapError {
  return e instanceof UniapError;
}
