// The rank layout has one definition (planner/rank-layout.ts) and the executor must create exactly
// those groups (runtime/executor/uniap_exec/groups.py): for stages of 1-16 ranks at any first rank,
// every dp x tp factorization's TP and DP groups, every resharding pair's groups and every cp x tp
// split's context-parallel groups, compared list
// for list (order included: torch requires every rank to create groups in the same order).
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { choosePython, pythonPathWith } from '../common/python.ts';
import { cpGroups, dpGroups, reshardGroups, tpGroups } from '../planner/rank-layout.ts';

const root = resolve(import.meta.dirname, '..');

interface Case {
  first: number;
  g: number;
  dp: number;
  tp: number;
  large: number;
}

function cases(): Case[] {
  const out: Case[] = [];
  for (const g of [1, 2, 3, 4, 6, 8, 12, 16]) {
    for (let dp = 1; dp <= g; dp++) {
      if (g % dp !== 0) continue;
      for (let large = dp; large <= g; large += dp) {
        if (g % large === 0 && large % dp === 0) out.push({ first: g * 3, g, dp, tp: g / dp, large });
      }
    }
  }
  return out;
}

const PY = `
import json, sys
from uniap_exec.groups import cp_groups, dp_groups, reshard_groups, tp_groups
out = []
for c in json.load(sys.stdin):
    g, tp = c["g"], c["tp"]
    out.append({"tp": tp_groups(c["first"], g, tp), "dp": dp_groups(c["first"], g, c["dp"]),
                "reshard": reshard_groups(c["first"], g, c["dp"], c["large"]),
                "cp": [cp_groups(c["first"], g, cp, t) for t in range(1, tp + 1) if tp % t == 0 for cp in [tp // t]]})
json.dump(out, sys.stdout)
`;

describe('rank layout: TypeScript and Python agree', () => {
  it('TP, DP and resharding groups, in creation order', () => {
    const cs = cases();
    const res = spawnSync(choosePython(), ['-c', PY], {
      input: JSON.stringify(cs),
      encoding: 'utf8',
      env: { ...process.env, PYTHONPATH: pythonPathWith([join(root, 'runtime/executor')]), OMP_NUM_THREADS: '1' },
      timeout: 120_000,
    });
    expect(res.status, res.stderr).toBe(0);
    const got = JSON.parse(res.stdout) as { tp: number[][]; dp: number[][]; reshard: number[][]; cp: number[][][] }[];
    // cp: every split of the row shard's g / dp ranks into cp x tp' (cp = (g / dp) / tp')
    const cpOf = (c: Case) => Array.from({ length: c.tp }, (_, i) => i + 1).filter((t) => c.tp % t === 0).map((t) => cpGroups(c.first, c.g, c.tp / t, t));
    const want = cs.map((c) => ({ tp: tpGroups(c.first, c.g, c.tp), dp: dpGroups(c.first, c.g, c.dp), reshard: reshardGroups(c.first, c.g, c.dp, c.large), cp: cpOf(c) }));
    expect(cs.length).toBeGreaterThan(40);
    expect(got).toEqual(want);
    // The layout itself: tp-innermost (local rank = dpIndex * tp + tpIndex).
    expect(tpGroups(8, 8, 2)).toEqual([[8, 9], [10, 11], [12, 13], [14, 15]]);
    expect(dpGroups(8, 8, 4)).toEqual([[8, 10, 12, 14], [9, 11, 13, 15]]);
    expect(reshardGroups(0, 8, 2, 8)).toEqual([[0, 1, 2, 3], [4, 5, 6, 7]]);
    // dp 2 x cp 2 x tp 2: local = (dpIndex * 2 + cpIndex) * 2 + tpIndex
    expect(cpGroups(0, 8, 2, 2)).toEqual([[0, 2], [1, 3], [4, 6], [5, 7]]);
  });
});
