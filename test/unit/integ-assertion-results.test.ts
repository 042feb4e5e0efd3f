import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertionFailures } from '../aws/assertion-results';

const STACK = 'DdbreplIntegTest-assertions';
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ddbrepl-results-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function resultsFile(outputs: unknown): string {
  const file = join(dir, 'assertion-results.json');
  writeFileSync(file, JSON.stringify(outputs));
  return file;
}

describe('assertionFailures (npm run test:aws verdict)', () => {
  it('passes only when every AssertionResults output is a success', () => {
    const file = resultsFile({ [STACK]: { AssertionResultsA: '{"status":"success"}', AssertionResultsB: '{"status":"success"}', Other: 'x' } });
    expect(assertionFailures(file, STACK)).toEqual([]);
  });

  it('names each failed assertion with its message (multi-line messages included)', () => {
    const file = resultsFile({ [STACK]: { AssertionResultsA: '{"status":"success"}', AssertionResultsB: '{"status":"fail","message":"Expected 1\nActual 0"}' } });
    expect(assertionFailures(file, STACK)).toEqual(['AssertionResultsB: Expected 1\nActual 0']);
  });

  it.each([
    ['no file', undefined, /no assertion results in/],
    ['no entry for the assertion stack', { OtherStack: {} }, /reported no assertion results/],
    ['no AssertionResults output', { [STACK]: { Other: 'x' } }, /reported no assertion results/],
    ['an unreadable result', { [STACK]: { AssertionResultsA: 'not json' } }, /AssertionResultsA: unreadable result/],
  ])('fails on %s: a run that asserted nothing must not pass', (_what, outputs, expected) => {
    const file = outputs === undefined ? join(dir, 'missing.json') : resultsFile(outputs);
    const failures = assertionFailures(file, STACK);
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatch(expected);
  });
});
