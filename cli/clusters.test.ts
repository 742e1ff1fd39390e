// `uniap clusters` output (table and --json) and the cluster part of `uniap describe`.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { runCommand } from '../tests/helpers/run-command.ts';
import { loadCluster } from '../configs/cluster-presets.ts';
import { clustersCommand, formatClusterDescription } from './clusters.ts';

const run = (json: boolean) => runCommand(clustersCommand as never, json ? ['clusters', '--json'] : ['clusters']);

describe('uniap clusters', () => {
  afterEach(() => vi.restoreAllMocks());

  it('prints a table of every preset', async () => {
    const lines = (await run(false)).trimEnd().split('\n');
    expect(lines[0]).toMatch(/^name\s+nodes x devices\s+device\s+memory\s+peak TFLOPS\s+intra-node link \(per device\)\s+inter-node link \(per node\)$/);
    const h100 = lines.find((l) => l.startsWith('h100-64x8 '))!;
    expect(h100).toMatch(/64 x 8\s+H100-SXM\s+80 GiB\s+989 \(16-bit\)\s+nvswitch 450 GB\/s, 1.9 µs\s+infiniband 400 GB\/s, 4 µs/);
    expect(lines.find((l) => l.startsWith('paper-titanxp-2x4 '))).toMatch(/2 x 4\s+TITAN-Xp\s+12 GiB\s+12.1 \(fp32\)/);
    expect(lines.some((l) => l.startsWith('local-cpu '))).toBe(true);
  });

  it('prints JSON with --json', async () => {
    const list = JSON.parse(await run(true)) as { name: string; devices: number }[];
    expect(list.find((p) => p.name === 'h100-128x8')!.devices).toBe(1024);
  });
});

describe('formatClusterDescription', () => {
  it('groups identical nodes and shows links and totals', () => {
    const text = formatClusterDescription(loadCluster('h100-4x8'));
    expect(text).toContain('cluster h100-4x8 (from h100-4x8)');
    expect(text).toContain('4 nodes, 32 devices, backend nccl');
    expect(text).toContain('nodes 0-3: 8 x H100-SXM (gpu)');
    expect(text).toContain('peak 989 TFLOPS 16-bit, 66.9 TFLOPS fp32');
    expect(text).toContain('inter-node link: infiniband 400 GB/s per node per direction, 4 µs');
    expect(text).toContain('total: 2560 GiB device memory, 31648 peak TFLOPS');
  });

  it('describes a single-node cluster without an inter-node link', () => {
    const text = formatClusterDescription(loadCluster('paper-v100-1x8'));
    expect(text).toContain('node 0: 8 x V100-32GB-SXM2');
    expect(text).not.toContain('inter-node');
  });
});
