// Run one CLI verb through yargs in-process, wired as cli.ts wires it (global --json), and capture
// what it writes to stdout.
import { vi } from 'vitest';
import yargs, { type CommandModule } from 'yargs';

export async function runCommand(command: CommandModule<never, never>, argv: string[]): Promise<string> {
  let out = '';
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  });
  try {
    await yargs(argv)
      .option('json', { type: 'boolean', default: false })
      .command(command as CommandModule)
      .strict()
      .parseAsync();
  } finally {
    spy.mockRestore();
  }
  return out;
}
