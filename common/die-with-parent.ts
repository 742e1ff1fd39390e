// Child processes that die with the process that started them: the one place uniap sets this up
// (executors started by a worker agent or by runLocal, measuring ranks of `uniap profile`, the
// private redis-server of `uniap launch`). Linux delivers a chosen signal to a process whose parent
// dies if it asked with prctl(PR_SET_PDEATHSIG) (man 2 prctl); the setting survives execve. Node
// cannot ask for its children, so a short Python prelude asks and then exec()s the real command
// unchanged (same pid, same argv). Where Python or prctl is missing the command runs plainly.
//
// Signal policy (one for every child):
//   - parent alive: the parent stops its children itself, SIGTERM first where a clean exit matters
//     (ExecutorProcess.stop sends SIGTERM to the executor's process group and SIGKILL after the
//     grace period); this module is not involved.
//   - parent dead: the child gets SIGKILL (PARENT_DEATH_SIGNAL). Nobody is left to wait for a clean
//     exit or to read what it would report, and a handler for a gentler signal may never run: a rank
//     blocked in a collective whose peers are gone does not return to the interpreter.
import { existsSync } from 'node:fs';

/** What a child gets when its parent dies (see the policy above). */
export const PARENT_DEATH_SIGNAL = 'SIGKILL';

// PR_SET_PDEATHSIG = 1 (linux/prctl.h). Exits at once if the parent died before the prctl took effect.
const PRELUDE = [
  'import os, sys, signal',
  'try:',
  '    import ctypes',
  `    ctypes.CDLL(None, use_errno=True).prctl(1, signal.${PARENT_DEATH_SIGNAL}, 0, 0, 0)`,
  'except Exception:',
  '    pass',
  'if os.getppid() != int(sys.argv[1]):',
  '    os._exit(1)',
  'os.execvp(sys.argv[2], sys.argv[2:])',
].join('\n');

/**
 * Command and arguments that run `command args...` so that it gets PARENT_DEATH_SIGNAL when this
 * process dies. `python` runs the prelude (any Python 3; for a Python child, its own interpreter);
 * null or missing: the command as is.
 */
export function dieWithParent(python: string | null, command: string, args: string[]): { command: string; args: string[] } {
  if (process.platform !== 'linux' || python === null || (python.includes('/') && !existsSync(python))) return { command, args };
  return { command: python, args: ['-c', PRELUDE, String(process.pid), command, ...args] };
}
