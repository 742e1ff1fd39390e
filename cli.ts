// The `uniap` command line: yargs wiring only. Each verb lives in cli/<verb>.ts and calls into the
// planner, profiler or runtime; user mistakes surface as one error line and a non-zero exit.
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import type { CommandModule } from 'yargs';
import { isUniapError } from './common/errors.ts';
import { modelsCommand } from './cli/models.ts';
import { clustersCommand } from './cli/clusters.ts';
import { describeCommand } from './cli/describe.ts';
import { estimateCommand } from './cli/estimate.ts';
import { planCommand } from './cli/plan.ts';
import { compareCommand } from './cli/compare.ts';
import { profileCommand } from './cli/profile.ts';
import { coordinatorCommand } from './cli/coordinator.ts';
import { workerCommand } from './cli/worker.ts';
import { launchCommand } from './cli/launch.ts';
import { validateCommand } from './cli/validate.ts';
import { calibrateCommand } from './cli/calibrate.ts';

// The verbs, in the order `--help` lists them (data-flow order).
const commands = [
  modelsCommand,
  clustersCommand,
  describeCommand,
  profileCommand,
  planCommand,
  estimateCommand,
  compareCommand,
  validateCommand,
  calibrateCommand,
  launchCommand,
  coordinatorCommand,
  workerCommand,
] as CommandModule[];

export async function main(argv: string[]): Promise<void> {
  const cli = yargs(argv)
    .scriptName('uniap')
    .usage('uniap <command> [options]\n\nAutomatic parallelism for training transformers on GPU clusters (UniAP).')
    .option('json', { type: 'boolean', default: false, describe: 'Print machine-readable JSON' })
    .command(commands)
    .demandCommand(1, 'Name a command; `uniap --help` lists them.')
    .strict()
    .recommendCommands()
    .help()
    .alias('h', 'help')
    .version(false)
    .wrap(Math.min(110, process.stdout.columns || 100))
    .fail((msg, err) => {
      // yargs reports argument problems (including .check() failures) with a message; anything else
      // that reaches here is a handler's own error and keeps its identity.
      if (err && (isUniapError(err) || !msg)) throw err;
      throw new UsageError(msg || err?.message || 'invalid arguments');
    });
  await cli.parseAsync();
}

class UsageError extends Error {}

main(hideBin(process.argv)).catch((e: unknown) => {
  if (isUniapError(e)) {
    process.stderr.write(`uniap: error: ${e.message}\n`);
    process.exit(e.exitCode);
  }
  if (e instanceof UsageError) {
    process.stderr.write(`uniap: error: ${e.message}\nRun \`uniap --help\` for usage.\n`);
    process.exit(2);
  }
  throw e;
});
