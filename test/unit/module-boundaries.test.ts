import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import * as ts from 'typescript';

/**
 * The module boundaries of docs/architecture.md#where-each-concern-lives, checked on the source:
 * - cli/ uses local/ (the emulators) only in cli/local/, the `local` command and its adapters;
 * - handlers/ (what runs in Lambda) imports nothing from cli/, local/ or common/;
 * - local/ imports nothing from cli/; common/ nothing from cli/ or local/.
 * Every module specifier counts: static imports (type-only too), re-exports, `import()`, `require()`.
 */
const ROOT = resolve(__dirname, '..', '..');

function tsFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .map((entry) => relative(ROOT, join(entry.parentPath, entry.name)).split(sep).join('/'))
    .sort();
}

/** The module specifiers of a file's text, by the TypeScript scanner (not a regex). */
function specifiers(text: string): string[] {
  return ts.preProcessFile(text, true, true).importedFiles.map((f) => f.fileName);
}

/** The repository folder a relative specifier of `file` lands in (`local`, `cli/local`, …); undefined for packages. */
function target(file: string, specifier: string): string | undefined {
  if (!specifier.startsWith('.')) return undefined;
  return relative(ROOT, resolve(ROOT, dirname(file), specifier)).split(sep).join('/');
}

const within = (path: string, folder: string): boolean => path === folder || path.startsWith(`${folder}/`);

/** `file → specifier` for every import of a file under `from` (except under `except`) that lands in one of `forbidden`. */
function offenders(from: string, forbidden: readonly string[], except?: string): string[] {
  return tsFiles(from)
    .filter((file) => except === undefined || !within(file, except))
    .flatMap((file) =>
      specifiers(readFileSync(join(ROOT, file), 'utf8'))
        .filter((spec) => {
          const path = target(file, spec);
          return path !== undefined && forbidden.some((folder) => within(path, folder));
        })
        .map((spec) => `${file} → ${spec}`),
    );
}

describe('module boundaries', () => {
  it('sees every form of import (the check itself)', () => {
    const text = [
      "import { a } from '../../local/a';",
      "import type { B } from '../../local/b';",
      "export { c } from '../../local/c';",
      "import '../../local/d';",
      "const e = import('../../local/e');",
      "const f = require('../../local/f');",
      "import { g } from 'commander';",
    ].join('\n');
    const landed = specifiers(text).map((spec) => target('cli/commands/x.ts', spec));
    expect(landed).toEqual(['local/a', 'local/b', 'local/c', 'local/d', 'local/e', 'local/f', undefined]);
    expect(within('cli/local/run', 'cli/local')).toBe(true);
    expect(within('cli/localish', 'cli/local')).toBe(false);
  });

  it('cli/ imports local/ only from cli/local/ (the local command and its adapters)', () => {
    expect(tsFiles('cli/local').length).toBeGreaterThan(0);
    expect(offenders('cli', ['local'], 'cli/local')).toEqual([]);
  });

  it('handlers/ import nothing from cli/, local/ or common/', () => {
    expect(offenders('handlers', ['cli', 'local', 'common'])).toEqual([]);
  });

  it('local/ imports nothing from cli/', () => {
    expect(offenders('local', ['cli'])).toEqual([]);
  });

  it('common/ imports nothing from cli/ or local/', () => {
    expect(offenders('common', ['cli', 'local'])).toEqual([]);
  });
});
