// `uniap describe NAME | --model FILE | --cluster FILE`: one model or cluster in detail.
import type { CommandModule } from 'yargs';
import { loadModel, modelPresetNames } from '../configs/model-presets.ts';
import { loadCluster, clusterPresetNames } from '../configs/cluster-presets.ts';
import { describeModel } from '../configs/model-describe.ts';
import { formatModelDescription } from './models.ts';
import { formatClusterDescription } from './clusters.ts';
import { UniapError } from '../common/errors.ts';
import { printJson } from './format.ts';
import { SEQ_LENGTH_OPTION, seqLengthLine } from './inputs.ts';

interface DescribeArgs {
  name?: string;
  model?: string;
  cluster?: string;
  json: boolean;
}

export const describeCommand: CommandModule<object, DescribeArgs> = {
  command: 'describe [name]',
  describe: 'Show one model or cluster in detail (parameters, FLOPs per token, model-state memory; devices and links)',
  builder: (y) =>
    y
      .positional('name', { type: 'string', describe: 'A model or cluster preset name' })
      .option('model', { type: 'string', describe: 'A model JSON or Hugging Face config.json (or preset)' })
      .option('cluster', { type: 'string', describe: 'A cluster JSON (or preset)' })
      .option('seq-length', SEQ_LENGTH_OPTION)
      .example('uniap describe llama-2-7b', '')
      .example('uniap describe --model ./config.json', '') as never,
  handler: (argv) => {
    const targets = [argv.name, argv.model, argv.cluster].filter((x) => x !== undefined);
    if (targets.length !== 1) {
      throw new UniapError('CONFIG_INVALID', 'describe takes exactly one of: a preset NAME, --model FILE, --cluster FILE');
    }
    let kind: 'model' | 'cluster';
    if (argv.model) kind = 'model';
    else if (argv.cluster) kind = 'cluster';
    else {
      const name = argv.name!;
      const isModel = modelPresetNames().includes(name);
      const isCluster = clusterPresetNames().includes(name) || name.startsWith('local-cpu');
      if (!isModel && !isCluster) {
        throw new UniapError(
          'UNKNOWN_PRESET',
          `"${name}" is neither a model nor a cluster preset; see \`uniap models\` and \`uniap clusters\`, or pass --model FILE / --cluster FILE`,
        );
      }
      kind = isModel ? 'model' : 'cluster';
    }
    if (kind === 'model') {
      const seq = (argv as { 'seq-length'?: number })['seq-length'];
      const m = loadModel(argv.model ?? argv.name!, seq);
      if (argv.json) printJson({ spec: m, derived: describeModel(m) });
      else process.stdout.write(formatModelDescription(m) + '\n' + seqLengthLine(m, seq) + '\n');
    } else {
      const c = loadCluster(argv.cluster ?? argv.name!);
      if (argv.json) printJson(c);
      else process.stdout.write(formatClusterDescription(c) + '\n');
    }
  },
};
