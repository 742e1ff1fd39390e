// Child processes that die with the process that started them. Linux delivers a chosen signal to a
// process whose parent dies if it asked with prctl(PR_SET_PDEATHSIG); Node cannot ask for its
// children, so a two-line Python prelude asks and then exec()s the real command unchanged (same pid,
// same argv). Used for executors (a SIGKILLed worker agent leaves none behind) and for the private
// redis-server of `uniap launch`. Where Python or prctl is missing the command runs plainly.
import { existsSync } from 'node:fs';

// PR_SET_PDEATHSIG = 1. Exits at once if the parent died before the prctl took effect.
const PRELUDE = [
  'import os, sys, signal',
  'try:',
  '    import ctypes',
  '    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)',
  'except Exception:',
  '    pass',
  'if os.getppid() != int(sys.argv[1]):',
  '    os._exit(1)',
  'os.execvp(sys.argv[2], sys.argv[2:])',
].join('\n');

/**
 * Command and arguments that run `command args...` so that it gets SIGKILL when this process dies.
 * `python` runs the prelude (any Python 3); null or missing: the command as is.
 */
export function dieWithParent(python: string | null, command: string, args: string[]): { command: string; args: string[] } {
  if (process.platform !== 'linux' || python === null || (python.includes('/') && !existsSync(python))) return { command, args };
  return { command: python, args: ['-c', PRELUDE, String(process.pid), command, ...args] };
}
