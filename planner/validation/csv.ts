// RFC 4180 CSV: comma-separated cells, double-quoted cells may hold commas, newlines and "" for a
// quote; lines starting with # are comments (the data files cite their sources there).
import { UniapError } from '../../common/errors.ts';

export function parseCsv(text: string, file: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  let line = 1;
  let rowStart = true;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (ch === '"') {
        quoted = false;
      } else {
        if (ch === '\n') line++;
        cell += ch;
      }
      continue;
    }
    if (rowStart && ch === '#') {
      while (i < text.length && text[i] !== '\n') i++;
      line++;
      continue;
    }
    rowStart = false;
    if (ch === '"' && cell === '') quoted = true;
    else if (ch === ',') {
      row.push(cell);
      cell = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      row.push(cell);
      if (row.length > 1 || row[0] !== '') rows.push(row);
      row = [];
      cell = '';
      line++;
      rowStart = true;
    } else cell += ch;
  }
  if (quoted) throw new UniapError('CONFIG_INVALID', `${file}: a quoted cell opened before line ${line} never closes; close it with "`);
  if (cell !== '' || row.length > 0) {
    row.push(cell);
    rows.push(row);
  }
  return rows;
}
