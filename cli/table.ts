import Table from 'cli-table3';

/**
 * The CLI's tables, drawn by cli-table3 without borders or colours: columns two spaces apart, each
 * as wide as its widest cell (display width: cli-table3 measures with string-width, so a wide
 * character does not shift the columns). Lines carry no trailing blanks, so the output is the same
 * on a terminal, in a pipe and in a file (docs/decisions.md, "Tables and progress lines").
 */

const NO_BORDER = {
  top: '', 'top-mid': '', 'top-left': '', 'top-right': '',
  bottom: '', 'bottom-mid': '', 'bottom-left': '', 'bottom-right': '',
  left: '', 'left-mid': '', mid: '', 'mid-mid': '', right: '', 'right-mid': '',
  middle: '  ',
} as const;

function draw(rows: readonly (readonly string[])[], indent: string): string {
  const table = new Table({ chars: { ...NO_BORDER, left: indent }, style: { head: [], border: [], 'padding-left': 0, 'padding-right': 0 } });
  table.push(...rows.map((row) => [...row]));
  return table.toString().split('\n').map((line) => line.trimEnd()).join('\n');
}

/** Label/value pairs, indented by two spaces: the summaries of `local` and `status --target`. */
export function formatTable(rows: readonly (readonly [string, string])[]): string {
  return draw(rows, '  ');
}

/** A header row and data rows, flush left: `status` over several targets. */
export function formatColumns(rows: readonly (readonly string[])[]): string {
  return draw(rows, '');
}
