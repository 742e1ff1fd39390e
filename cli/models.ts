// `uniap models`: the built-in model presets with their key numbers (a table, or JSON with --json),
// and `formatModelDescription`, the model half of `uniap describe`.
import { modelStateBytes, type ZeroStage } from '../configs/model-state.ts';
import type { CommandModule } from 'yargs';
import { describeModel } from '../configs/model-describe.ts';
import { listModelPresets, type ModelPresetSummary } from '../configs/model-presets.ts';
import type { ModelSpec } from '../configs/model-spec.ts';
import { fmtBytes, fmtCount, table } from './format.ts';

export const modelsCommand: CommandModule<{ json?: boolean }, { json?: boolean }> = {
  command: 'models',
  describe: 'List the built-in model presets (family, layers, parameters, sequence length, dtype)',
  handler: (argv) => {
    const presets = listModelPresets();
    process.stdout.write(argv.json ? `${JSON.stringify(presets, null, 2)}\n` : formatModelTable(presets));
  },
};

export function formatModelTable(presets: ModelPresetSummary[]): string {
  const rows = presets.map((p) => [p.name, p.family, String(p.layers), fmtCount(p.parameters), String(p.seqLength), p.dtype]);
  return `${table(['name', 'family', 'layers', 'parameters', 'seq', 'dtype'], rows)}\n`;
}

/** Multi-line description of one model for `uniap describe NAME`. */
export function formatModelDescription(m: ModelSpec): string {
  const d = describeModel(m);
  const seq = d.decoderSeqLength > 0 ? `${d.seqLength} encoder + ${d.decoderSeqLength} decoder` : String(d.seqLength);
  const byType = d.layersByType.map((t) => `${t.count} ${t.type}`).join(', ');
  const lines = [
    `model ${d.name} (${d.family}, ${d.dtype}; from ${d.source}; fingerprint ${d.fingerprint})`,
    `  parameters        ${fmtCount(d.parameters)} (${d.parameters.toLocaleString('en-US')}; non-embedding ${fmtCount(d.nonEmbeddingParameters)})`,
    `  training FLOPs    ${sci(d.flopsPerToken)} per token, ${sci(d.flopsPerSample)} per sample of ${d.tokensPerSample} tokens (forward + backward, no recomputation)`,
    `  model states      ${fmtBytes(d.modelStateBytes)} unsharded (${d.modelStateBytesPerParameter} B/parameter: AdamW, ${d.dtype === 'fp32' ? 'fp32' : '16-bit weights, fp32 gradients and master weights'})`,
    `  sharded over 8    ${[1, 2, 3].map((z) => `${z === 3 ? 'FSDP' : `ZeRO-${z}`} ${fmtBytes(modelStateBytes(d.parameters, d.dtype, z as ZeroStage, 8).totalBytes)}`).join(', ')} per rank (data-parallel ranks; configs/model-state.ts)`,
    `  sequence length   ${seq} tokens per sample`,
    `  layers            ${d.layers}: ${byType}`,
    `  distinct shapes   ${d.distinctShapes}`,
  ];
  const rows = d.shapes.map((s) => [
    s.firstLayer,
    String(s.count),
    String(s.hiddenSize),
    s.ffnSize ? String(s.ffnSize) : '-',
    s.heads ? (s.kvHeads !== s.heads ? `${s.heads}/${s.kvHeads}` : String(s.heads)) : '-',
    String(s.seqLength),
    fmtCount(s.parametersPerLayer),
  ]);
  const shapeTable = table(['first layer', 'count', 'hidden', 'ffn', 'heads/kv', 'seq', 'params each'], rows);
  return [...lines, '', ...shapeTable.split('\n').map((l) => `  ${l}`)].join('\n');
}

function sci(x: number): string {
  return x.toExponential(3).replace('e+', 'e');
}
