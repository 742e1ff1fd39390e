// `uniap clusters`: the built-in cluster presets with their key numbers (a table, or JSON with
// --json), and `formatClusterDescription`, the cluster half of `uniap describe`.
import type { CommandModule } from 'yargs';
import { type ClusterSpec, isHomogeneous, type LinkSpec, totalDevices } from '../configs/cluster-spec.ts';
import { describeLink, listClusterPresets, type ClusterPresetSummary } from '../configs/cluster-presets.ts';

export const clustersCommand: CommandModule<{ json?: boolean }, { json?: boolean }> = {
  command: 'clusters',
  describe: 'List the built-in cluster presets (nodes x devices, device, memory, peak TFLOPS, links)',
  handler: (argv) => {
    const presets = listClusterPresets();
    process.stdout.write(argv.json ? `${JSON.stringify(presets, null, 2)}\n` : formatPresetTable(presets));
  },
};

export function formatPresetTable(presets: ClusterPresetSummary[]): string {
  const header = ['name', 'nodes x devices', 'device', 'memory', 'peak TFLOPS', 'intra-node link (per device)', 'inter-node link (per node)'];
  const rows = presets.map((p) => [
    p.name,
    `${p.nodes} x ${p.devicesPerNode}`,
    p.device,
    `${formatGiB(p.memoryGiB)} GiB`,
    `${num(p.peakTflops)} (${p.peakPrecision})`,
    compactLink(p.intraNodeLink),
    p.interNodeLink ? compactLink(p.interNodeLink) : '-',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n') + '\n';
}

/** Multi-line description of one cluster for `uniap describe`. */
export function formatClusterDescription(c: ClusterSpec): string {
  const lines: string[] = [];
  const n = totalDevices(c);
  lines.push(`cluster ${c.name} (from ${c.source})`);
  lines.push(`  ${c.nodes.length} node${c.nodes.length === 1 ? '' : 's'}, ${n} devices, backend ${c.backend}${isHomogeneous(c) ? '' : ', heterogeneous'}`);
  // Group consecutive identical nodes: "nodes 0-3: 8 x H100-SXM".
  let start = 0;
  for (let i = 1; i <= c.nodes.length; i++) {
    const a = c.nodes[start]!;
    const b = c.nodes[i];
    const same =
      b !== undefined &&
      b.deviceType === a.deviceType &&
      b.devices === a.devices &&
      JSON.stringify(b.intraNodeLink) === JSON.stringify(a.intraNodeLink);
    if (same) continue;
    const range = start === i - 1 ? `node ${start}` : `nodes ${start}-${i - 1}`;
    const d = a.deviceType;
    lines.push(`  ${range}: ${a.devices} x ${d.name} (${d.kind})`);
    lines.push(`    memory ${formatGiB(d.memoryBytes / 2 ** 30)} GiB, ${num(d.memoryBandwidthGBps)} GB/s`);
    lines.push(`    peak ${d.peakTflops16 > 0 ? `${num(d.peakTflops16)} TFLOPS 16-bit, ` : ''}${num(d.peakTflops32)} TFLOPS fp32`);
    lines.push(`    intra-node link: ${describeLink(a.intraNodeLink, 'per device')}`);
    start = i;
  }
  if (c.interNodeLink) lines.push(`  inter-node link: ${describeLink(c.interNodeLink, 'per node')}`);
  const memory = c.nodes.reduce((s, node) => s + node.devices * node.deviceType.memoryBytes, 0);
  const peak = c.nodes.reduce((s, node) => s + node.devices * (node.deviceType.peakTflops16 || node.deviceType.peakTflops32), 0);
  lines.push(`  total: ${formatGiB(memory / 2 ** 30)} GiB device memory, ${num(peak)} peak TFLOPS`);
  return lines.join('\n') + '\n';
}

/** "nvswitch 450 GB/s, 1.9 µs" (bandwidth per direction). */
function compactLink(l: LinkSpec): string {
  return `${l.kind} ${num(l.bandwidthGBps)} GB/s, ${num(l.latencyUs)} µs`;
}

/** At most 4 significant digits, no trailing zeros: 0.02133, 3.333, 31648. */
function num(x: number): string {
  return x >= 1000 ? String(Math.round(x)) : String(Number(x.toPrecision(4)));
}

function formatGiB(g: number): string {
  return g >= 10 ? g.toFixed(0) : g.toFixed(1);
}
