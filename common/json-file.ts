// Reading a JSON file the user gave: a syntax error becomes one ConfigError line naming the file
// and the line and column of the error. Node 20's JSON.parse messages do not always carry a
// position, so a small scanner (RFC 8259 grammar) finds the first offending character itself.
import { readFileSync } from 'node:fs';
import { ConfigError } from './errors.ts';

export function readJsonFile(file: string): unknown {
  return parseJsonText(readFileSync(file, 'utf8'), file);
}

export function parseJsonText(text: string, file: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    const reason = (e instanceof Error ? e.message : String(e)).replace(/\s+/g, ' ');
    const offset = jsonSyntaxErrorOffset(text);
    const before = text.slice(0, offset);
    const line = before.split('\n').length;
    const column = offset - before.lastIndexOf('\n');
    throw new ConfigError(file, `line ${line}, column ${column}`, `invalid JSON (${reason})`, 'fix the JSON syntax');
  }
}

/** Offset of the first character that breaks the JSON grammar (text.length at an early end). */
export function jsonSyntaxErrorOffset(text: string): number {
  let i = 0;
  class Stop {
    constructor(readonly at: number) {}
  }
  const ws = (): void => {
    while (i < text.length && ' \t\n\r'.includes(text[i]!)) i++;
  };
  const expect = (ch: string): void => {
    if (text[i] !== ch) throw new Stop(i);
    i++;
  };
  const literal = (word: string): void => {
    for (const ch of word) expect(ch);
  };
  const digits = (): void => {
    if (!/[0-9]/.test(text[i] ?? '')) throw new Stop(i);
    while (/[0-9]/.test(text[i] ?? '')) i++;
  };
  const string = (): void => {
    expect('"');
    for (;;) {
      const c = text[i];
      if (c === undefined || c < ' ') throw new Stop(i);
      i++;
      if (c === '"') return;
      if (c === '\\') {
        const esc = text[i];
        if (esc === 'u') {
          i++;
          for (let k = 0; k < 4; k++) {
            if (!/[0-9a-fA-F]/.test(text[i] ?? '')) throw new Stop(i);
            i++;
          }
        } else if (esc !== undefined && '"\\/bfnrt'.includes(esc)) i++;
        else throw new Stop(i);
      }
    }
  };
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      ws();
      if (text[i] === '}') return void i++;
      for (;;) {
        ws();
        string();
        ws();
        expect(':');
        value();
        ws();
        if (text[i] === ',') i++;
        else return expect('}');
      }
    } else if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') return void i++;
      for (;;) {
        value();
        ws();
        if (text[i] === ',') i++;
        else return expect(']');
      }
    } else if (c === '"') string();
    else if (c === 't') literal('true');
    else if (c === 'f') literal('false');
    else if (c === 'n') literal('null');
    else if (c === '-' || /[0-9]/.test(c ?? '')) {
      if (c === '-') i++;
      if (text[i] === '0') i++;
      else digits();
      if (text[i] === '.') {
        i++;
        digits();
      }
      if (text[i] === 'e' || text[i] === 'E') {
        i++;
        if (text[i] === '+' || text[i] === '-') i++;
        digits();
      }
    } else throw new Stop(i);
  };
  try {
    value();
    ws();
    return i < text.length ? i : text.length;
  } catch (e) {
    if (e instanceof Stop) return e.at;
    throw e;
  }
}
