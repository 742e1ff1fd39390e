// dieWithParent: the child gets PARENT_DEATH_SIGNAL (SIGKILL) when the process that started it dies.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PARENT_DEATH_SIGNAL, dieWithParent } from './die-with-parent.ts';

const python = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : null;
const alive = (pid: number): boolean => {
  try {
    // A zombie is dead for our purposes.
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};

describe('dieWithParent', () => {
  it('wraps the command in the prelude, or leaves it alone without Python', () => {
    expect(PARENT_DEATH_SIGNAL).toBe('SIGKILL');
    expect(dieWithParent(null, 'sleep', ['9'])).toEqual({ command: 'sleep', args: ['9'] });
    expect(dieWithParent('/nonexistent/python3', 'sleep', ['9'])).toEqual({ command: 'sleep', args: ['9'] });
    if (process.platform === 'linux' && python) {
      const w = dieWithParent(python, 'sleep', ['9']);
      expect(w.command).toBe(python);
      expect(w.args.slice(2)).toEqual([String(process.pid), 'sleep', '9']);
    }
  });

  it.skipIf(process.platform !== 'linux' || python === null)('a SIGKILLed parent leaves no child behind', async () => {
    // The parent: a node process that starts `sleep 60` through the prelude and prints its pid.
    const script = [
      `import { dieWithParent } from ${JSON.stringify(new URL('./die-with-parent.ts', import.meta.url).href)};`,
      `import { spawn } from 'node:child_process';`,
      `const w = dieWithParent(${JSON.stringify(python)}, 'sleep', ['60']);`,
      `const c = spawn(w.command, w.args, { stdio: 'ignore' });`,
      `c.on('spawn', () => console.log(c.pid));`,
      `setInterval(() => {}, 1000);`,
    ].join('\n');
    const p = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const childPid = await new Promise<number>((resolve) => p.stdout!.once('data', (d: Buffer) => resolve(Number(String(d).trim()))));
    expect(childPid).toBeGreaterThan(0);
    // Wait until the prelude has exec()ed sleep (its prctl is then in force).
    for (let i = 0; i < 100 && !readFileSync(`/proc/${childPid}/cmdline`, 'utf8').startsWith('sleep'); i++) await new Promise((r) => setTimeout(r, 20));
    p.kill('SIGKILL');
    let gone = false;
    for (let i = 0; i < 100 && !gone; i++) {
      gone = !alive(childPid);
      if (!gone) await new Promise((r) => setTimeout(r, 20));
    }
    if (!gone) process.kill(childPid, 'SIGKILL');
    expect(gone).toBe(true);
  });
});
