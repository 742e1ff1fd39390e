// Choosing the Python interpreter that runs our torch code, its install hint, and the folders of our
// Python packages (python/uniap_torch is shared by the profiler's uniap_measure and the executor's
// uniap_exec). One definition for the profiler, the executor launcher and the worker agents.
import { existsSync } from 'node:fs';
import { delimiter } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The interpreter used when neither --python nor $UNIAP_PYTHON is given (Debian's, which has python3-torch). */
export const DEFAULT_PYTHON = '/usr/bin/python3';
export const PYTHON_ENV_VAR = 'UNIAP_PYTHON';
/** What to install and how to pick another interpreter; ends every TOOL_MISSING message about torch. */
export const INSTALL_HINT =
  'install PyTorch (on Debian/Ubuntu: apt-get install python3-torch libopenblas0-pthread) or choose an interpreter that has torch 2.x or 1.13 with --python PATH or UNIAP_PYTHON=PATH';

/** Folder holding the shared `uniap_torch` package (layers, collectives). */
export const TORCH_PY_DIR = fileURLToPath(new URL('../python/', import.meta.url));

/** --python, else $UNIAP_PYTHON, else /usr/bin/python3 (python3 on PATH where that does not exist). */
export function choosePython(explicit?: string | null, env: NodeJS.ProcessEnv = process.env): string {
  if (explicit) return explicit;
  const fromEnv = env[PYTHON_ENV_VAR];
  if (fromEnv) return fromEnv;
  return existsSync(DEFAULT_PYTHON) ? DEFAULT_PYTHON : 'python3';
}

/** PYTHONPATH with `dirs` first (in order), then the shared torch package, then what `base` had. */
export function pythonPathWith(dirs: readonly string[], base: NodeJS.ProcessEnv = process.env): string {
  const parts = [...dirs, TORCH_PY_DIR];
  if (base.PYTHONPATH) parts.push(base.PYTHONPATH);
  return [...new Set(parts)].join(delimiter);
}
