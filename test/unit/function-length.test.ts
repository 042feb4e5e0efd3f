import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';

/**
 * Local mode stays readable in pieces (docs/architecture.md#local-mode): no function in local/ is
 * longer than MAX_LINES, counted from its first line to its last, nested functions included.
 */
const MAX_LINES = 120;
const ROOT = join(__dirname, '..', '..');
const DIRS = ['local'];

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return tsFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

interface FunctionSpan {
  where: string;
  lines: number;
}

function functionSpans(path: string): FunctionSpan[] {
  const source = ts.createSourceFile(path, readFileSync(path, 'utf8'), ts.ScriptTarget.Latest, true);
  const spans: FunctionSpan[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body !== undefined) {
      const first = source.getLineAndCharacterOfPosition(node.getStart(source)).line;
      const last = source.getLineAndCharacterOfPosition(node.getEnd()).line;
      const name = node.name !== undefined && ts.isIdentifier(node.name) ? node.name.text : '(anonymous)';
      spans.push({ where: `${relative(ROOT, path)}:${first + 1} ${name}`, lines: last - first + 1 });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return spans;
}

describe('function length', () => {
  const spans = DIRS.flatMap((dir) => tsFiles(join(ROOT, dir))).flatMap(functionSpans);

  it('finds the functions it measures (the scan itself works)', () => {
    expect(spans.some((s) => s.where.includes('local/session.ts') && s.where.endsWith(' startLocalSession'))).toBe(true);
  });

  it(`has no function in ${DIRS.join(', ')}/ over ${MAX_LINES} lines`, () => {
    const tooLong = spans.filter((s) => s.lines > MAX_LINES).map((s) => `${s.where} (${s.lines} lines)`);
    expect(tooLong).toEqual([]);
  });
});
