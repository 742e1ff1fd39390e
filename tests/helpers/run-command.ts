// Run CLI verbs through yargs in-process, wired as cli.ts wires them (global --json), and capture
// what they write to stdout. A failure (argument check or handler error) is thrown to the test.
import { vi } from 'vitest';
import yargs, { type CommandModule } from 'yargs';

export async function runCommand(
  commands: CommandModule<never, never> | CommandModule<never, never>[],
  argv: string[],
  opts: { quietStderr?: boolean } = {},
): Promise<string> {
  let out = '';
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  });
  const errSpy = opts.quietStderr ? vi.spyOn(process.stderr, 'write').mockImplementation(() => true) : undefined;
  try {
    await yargs(argv)
      .option('json', { type: 'boolean', default: false })
      .command((Array.isArray(commands) ? commands : [commands]) as CommandModule[])
      .strict()
      .fail((msg, err) => {
        throw err ?? new Error(msg);
      })
      .parseAsync();
  } finally {
    spy.mockRestore();
    errSpy?.mockRestore();
  }
  return out;
}
