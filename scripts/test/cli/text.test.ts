import { colorWanted } from '../../src/cli/output';
import { closest, editDistance } from '../../src/cli/suggest';
import { renderTable } from '../../src/cli/table';
import { displayWidth, truncateToWidth } from '../../src/cli/width';

describe('display width', () => {
  test('when text holds CJK, fullwidth, emoji or combining marks, then each counts the columns a terminal gives it', () => {
    expect(displayWidth('abc')).toBe(3);
    expect(displayWidth('名前')).toBe(4);
    expect(displayWidth('한국어')).toBe(6);
    expect(displayWidth('ＡＢ')).toBe(4);
    expect(displayWidth('e\u0301')).toBe(1);
    expect(displayWidth('🚀')).toBe(2);
    expect(displayWidth('a\u200bb')).toBe(2);
  });

  test('when a wide string is cut, then no wide character is split and the result fits', () => {
    expect(truncateToWidth('名前名前', 5)).toBe('名前…');
    expect(displayWidth(truncateToWidth('名前名前', 4))).toBeLessThanOrEqual(4);
    expect(truncateToWidth('名前', 4)).toBe('名前');
  });

  test('when a table holds CJK cells, then every column lines up by display width', () => {
    const rows = [
      { name: 'Matt', city: 'Berlin' },
      { name: '松本', city: '東京' },
      { name: 'Zoë', city: 'Zürich' },
    ];
    const lines = renderTable(
      [
        { header: 'NAME', value: (r: (typeof rows)[number]) => r.name },
        { header: 'CITY', value: (r: (typeof rows)[number]) => r.city },
      ],
      rows,
    );
    const cityColumn = lines.map((line) => displayWidth(line.slice(0, line.search(/\S+$/))));
    expect(new Set(cityColumn).size).toBe(1);
    expect(lines[2]).toBe('松本  東京');
  });

  test('when a table is narrowed to a terminal width, then wide cells are cut by columns, not code units', () => {
    const rows = [{ id: '1', data: '名前'.repeat(20) }];
    const lines = renderTable(
      [
        { header: 'ID', value: (r: (typeof rows)[number]) => r.id },
        { header: 'DATA', value: (r: (typeof rows)[number]) => r.data, flex: true },
      ],
      rows,
      { width: 20 },
    );
    for (const line of lines) expect(displayWidth(line)).toBeLessThanOrEqual(20);
    expect(lines[1]!.endsWith('…')).toBe(true);
  });
});

describe('suggestions', () => {
  test('when two neighbouring letters are swapped, then that is one edit', () => {
    expect(editDistance('limt', 'limit')).toBe(1);
    expect(editDistance('lsit', 'list')).toBe(1);
    expect(editDistance('abc', 'abc')).toBe(0);
  });

  test('when a word is close to one candidate, then it is suggested; when far from all, then nothing is', () => {
    expect(closest('--limt', ['--limit', '--prefix', '--service'])).toBe('--limit');
    expect(closest('strems', ['streams', 'events', 'trace'])).toBe('streams');
    expect(closest('--lim', ['--limit', '--json'])).toBe('--limit');
    expect(closest('frobnicate', ['streams', 'events', 'trace'])).toBeUndefined();
  });
});

describe('colour', () => {
  test('when NO_COLOR or FORCE_COLOR is set, then colour follows them over whether stdout is a terminal', () => {
    expect(colorWanted({}, true)).toBe(true);
    expect(colorWanted({}, false)).toBe(false);
    expect(colorWanted({ NO_COLOR: '1' }, true)).toBe(false);
    expect(colorWanted({ FORCE_COLOR: '1' }, false)).toBe(true);
    expect(colorWanted({ FORCE_COLOR: '0' }, true)).toBe(false);
    expect(colorWanted({ FORCE_COLOR: 'false' }, true)).toBe(false);
    expect(colorWanted({ TERM: 'dumb' }, true)).toBe(false);
  });
});
