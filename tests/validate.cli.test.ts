// `uniap validate` through the real CLI: a CSV and a JSON of runs give the report; bad files and bad
// rows give one error line naming the file and the row, a non-zero exit and no stack trace.
import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const good = join(root, 'tests/fixtures/measurements/made-up.csv');
const dir = mkdtempSync(join(tmpdir(), 'uniap-validate-'));

function uniap(...args: string[]) {
  const r = spawnSync(process.execPath, [join(root, 'bin/uniap.js'), ...args], { encoding: 'utf8', cwd: root, timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}
function oneLineError(r: { code: number | null; err: string }, pattern: RegExp) {
  expect(r.code).not.toBe(0);
  const lines = r.err.trim().split('\n');
  expect(lines, r.err).toHaveLength(1);
  expect(lines[0]).toMatch(/^uniap: error: /);
  expect(lines[0]).toMatch(pattern);
}
function csvWith(name: string, edit: (lines: string[]) => string[]): string {
  const p = join(dir, name);
  writeFileSync(p, edit(readFileSync(good, 'utf8').trimEnd().split('\n')).join('\n') + '\n');
  return p;
}

describe('uniap validate', () => {
  it('reports MAPE, tau and regret for a CSV, and the same numbers for the JSON of the same runs', () => {
    const r = uniap('validate', '--measurements', good, '--rows');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/data set\s+runs\s+MAPE/);
    expect(r.out).toMatch(/^demo\s+4\s+\d+\.\d%/m);
    expect(r.out).toMatch(/llama3-8b\s+3\s+-?\d\.\d\d\s+\d+\.\d%/);
    const j = JSON.parse(uniap('validate', '--measurements', good, '--json').out);
    expect(j[0].runs).toBe(4);
    expect(j[0].results[0].predictedMs).toBeGreaterThan(0);
    // The same runs as JSON objects.
    const lines = readFileSync(good, 'utf8').split('\n').filter((l) => l && !l.startsWith('#'));
    const head = lines[0]!.split(',');
    const objs = lines.slice(1).map((l) => Object.fromEntries(l.split(',').map((v, i) => [head[i], /^\d+$/.test(v) ? Number(v) : v])));
    const jp = join(dir, 'runs.json');
    writeFileSync(jp, JSON.stringify(objs));
    const fromJson = JSON.parse(uniap('validate', '--measurements', jp, '--json').out);
    expect(fromJson[0].mape).toBeCloseTo(j[0].mape, 12);
  });

  it('bad files and rows are one line naming the row and the fix', () => {
    oneLineError(uniap('validate', '--measurements', join(dir, 'nope.csv')), /cannot read measurements file .*nope\.csv/);
    oneLineError(uniap('validate', '--measurements', csvWith('col.csv', (l) => [l[0]!, l[1]!.replace('source', 'sauce'), ...l.slice(2)])), /unknown column "sauce"; the columns are source, model/);
    oneLineError(uniap('validate', '--measurements', csvWith('tp.csv', (l) => [...l.slice(0, 3), l[3]!.replace(',8,2,1,1,128,', ',8,3,1,1,128,')])), /row 2: tp 3 x pp 1 = 3 does not divide gpus 8/);
    oneLineError(uniap('validate', '--measurements', csvWith('time.csv', (l) => [...l.slice(0, 2), l[2]!.replace(/tokens_per_s_per_gpu,8000$/, ',')])), /row 1: no measured time: give time_ms, or metric and value/);
    oneLineError(uniap('validate', '--measurements', csvWith('cells.csv', (l) => [...l.slice(0, 4), l[4] + ',extra'])), /row 3: 20 cells but the header has 19 columns/);
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '[{"model": 1,}]');
    oneLineError(uniap('validate', '--measurements', bad), /bad\.json: at line 1, column \d+: invalid JSON/);
    writeFileSync(bad, '{"runs": []}');
    oneLineError(uniap('validate', '--measurements', bad), /expected an array of runs/);
  });

  it('--fit-on fits the compute factor on the named set, marks it (fit), and a wrong name is one error line', () => {
    const r = uniap('validate', '--measurements', good, '--fit-on', 'demo');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^Factors fitted on demo \(4 runs, \d+\.\d% rms log error there\): compute x\d+\.\d{3}/);
    expect(r.out).toMatch(/^demo \(fit\)\s+4\s/m);
    const j = JSON.parse(uniap('validate', '--measurements', good, '--fit-on', 'demo', '--json').out);
    expect(j.fit.sources).toEqual(['demo']);
    expect(j.reports[0].role).toBe('fit');
    // The fit moves the predictions: MAPE on the fit set is no worse than without it.
    const unfitted = JSON.parse(uniap('validate', '--measurements', good, '--json').out);
    expect(j.reports[0].mape).toBeLessThanOrEqual(unfitted[0].mape + 1e-9);
    oneLineError(uniap('validate', '--measurements', good, '--fit-on', 'nope'), /--fit-on nope: no data set of that name in the measurements; use one of demo/);
  });
});
