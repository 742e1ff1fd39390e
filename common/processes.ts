// How uniap starts its own processes (local workers of `uniap launch`, the commands of a Slurm or ssh
// launch): `node --import <tsx loader> <repo>/cli/<verb>.ts ...`. Each of cli/worker.ts,
// cli/coordinator.ts and cli/launch.ts runs as a program when started directly, which loads only
// what that verb needs. Also: running a yargs command module as a whole program.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import yargs, { type CommandModule } from 'yargs';
import { isUniapError } from './errors.ts';

/** The checkout's root (this file is common/processes.ts). */
export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const TSX_LOADER = createRequire(import.meta.url).resolve('tsx/esm');

export type Verb = 'worker' | 'coordinator' | 'launch';

/** Command and arguments that run `uniap <verb> ...args` on this machine. */
export function uniapProcess(verb: Verb, args: string[]): { command: string; args: string[] } {
  return { command: process.execPath, args: ['--import', pathToFileURL(TSX_LOADER).href, join(REPO_ROOT, 'cli', `${verb}.ts`), ...args] };
}

/** The same as a shell line for another machine with this checkout at `repoDir` (ssh, Slurm). */
export function uniapShellLine(verb: Verb, args: string[], repoDir = REPO_ROOT): string {
  return `cd ${shellQuote(repoDir)} && exec node --import tsx/esm cli/${verb}.ts ${args.map(shellQuote).join(' ')}`;
}

export function shellQuote(s: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(s)) return s;
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** True when `moduleUrl` is the program node was started with (not imported). */
export function isMainModule(moduleUrl: string): boolean {
  const entry = process.argv[1];
  return entry !== undefined && pathToFileURL(entry).href === moduleUrl;
}

/**
 * Runs one command module as the whole program (`node ... cli/worker.ts --coordinator ...`), with the
 * CLI's error convention: a UniapError prints one line and exits with its code.
 */
export async function runStandalone(verb: Verb, command: CommandModule<any, any>, argv: string[] = process.argv.slice(2)): Promise<void> {
  const spec = typeof command.command === 'string' ? command.command : verb;
  const asRoot = spec.replace(/^\S+/, '$0');
  try {
    await yargs(argv)
      .scriptName(`uniap ${verb}`)
      .command({ ...command, command: asRoot })
      .strict()
      .help()
      .version(false)
      .fail((msg, err) => {
        if (err) throw err;
        process.stderr.write(`uniap ${verb}: error: ${msg}\n`);
        process.exit(2);
      })
      .parseAsync();
    // The program ends with its command (gRPC channels or timers left behind must not keep it alive).
    process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0);
  } catch (e) {
    if (isUniapError(e)) {
      process.stderr.write(`uniap: error: ${e.message}\n`);
      process.exit(e.exitCode);
    }
    throw e;
  }
}
