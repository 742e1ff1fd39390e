// readJsonFile / parseJsonText: syntax errors name the file, line and column in one line.
import { describe, expect, it } from 'vitest';
import { ConfigError } from './errors.ts';
import { jsonSyntaxErrorOffset, parseJsonText } from './json-file.ts';

describe('JSON syntax errors', () => {
  it('locates the first offending character', () => {
    const cases: [string, number][] = [
      ['{"a": }', 6],
      ['{"a": 1,}', 8],
      ['[1, 2', 5],
      ['{"a" 1}', 5],
      ['{"a": tru}', 9],
      ['{"a": 01}', 7],
      ['{"a": "x\\q"}', 9],
      ['{} x', 3],
      ['', 0],
      ['{"a": -.5}', 7],
    ];
    for (const [text, offset] of cases) {
      expect(() => JSON.parse(text), text).toThrow();
      expect(jsonSyntaxErrorOffset(text), text).toBe(offset);
    }
  });

  it('parses valid JSON and reports line and column of an error', () => {
    expect(parseJsonText('{"a": [1, 2.5e3, "x\\u00e9", true, null]}', 'f.json')).toEqual({ a: [1, 2500, 'xé', true, null] });
    let e: unknown;
    try {
      parseJsonText('{\n  "name": "x",\n  "family": }\n', 'm.json');
    } catch (err) {
      e = err;
    }
    expect(e).toBeInstanceOf(ConfigError);
    const c = e as ConfigError;
    expect(c.message).toMatch(/^m\.json: at line 3, column 13: invalid JSON \(.+\); fix the JSON syntax$/);
    expect(c.message).not.toContain('\n');
  });
});
