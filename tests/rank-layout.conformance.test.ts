// The rank layout has one definition (planner/rank-layout.ts) and the executor must create exactly
// those groups (runtime/executor/uniap_exec/groups.py): for stages of 1-16 ranks at any first rank,
// every dp x tp factorization's TP and DP groups and every resharding pair's groups, compared list
// for list (order included: torch requires every rank to create groups in the same order).
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { choosePython, pythonPathWith } from '../common/python.ts';
import { dpGroups, reshardGroups, tpGroups } from '../planner/rank-layout.ts';

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
from uniap_exec.groups import dp_groups, reshard_groups, tp_groups
out = []
for c in json.load(sys.stdin):
    out.append({"tp": tp_groups(c["first"], c["g"], c["tp"]), "dp": dp_groups(c["first"], c["g"], c["dp"]),
                "reshard": reshard_groups(c["first"], c["g"], c["dp"], c["large"])})
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
    const got = JSON.parse(res.stdout) as { tp: number[][]; dp: number[][]; reshard: number[][] }[];
    const want = cs.map((c) => ({ tp: tpGroups(c.first, c.g, c.tp), dp: dpGroups(c.first, c.g, c.dp), reshard: reshardGroups(c.first, c.g, c.dp, c.large) }));
    expect(cs.length).toBeGreaterThan(40);
    expect(got).toEqual(want);
    // The layout itself: tp-innermost (local rank = dpIndex * tp + tpIndex).
    expect(tpGroups(8, 8, 2)).toEqual([[8, 9], [10, 11], [12, 13], [14, 15]]);
    expect(dpGroups(8, 8, 4)).toEqual([[8, 10, 12, 14], [9, 11, 13, 15]]);
    expect(reshardGroups(0, 8, 2, 8)).toEqual([[0, 1, 2, 3], [4, 5, 6, 7]]);
  });
});
