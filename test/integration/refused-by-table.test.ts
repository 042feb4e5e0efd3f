import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../support/run-cli';

/**
 * Some values only the table can refuse: each update below is valid on its own, the second grows
 * the item past DynamoDB's 400 KB. The run fails — and the error names the op's file and line.
 */
jest.setTimeout(120_000);

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'refused-by-table-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('names the file and line of an update DynamoDB refuses for growing the item past 400 KB', async () => {
  const ops = join(dir, 'ops.jsonl');
  const big = (name: string) => JSON.stringify({ op: 'update', key: { pk: { S: 'grow' } }, set: { [name]: { S: 'x'.repeat(250 * 1024) } } });
  writeFileSync(ops, `${JSON.stringify({ op: 'put', item: { pk: { S: 'grow' } } })}\n${big('a')}\n\n${big('b')}\n`);
  const run = await runCli('local', '--key-schema', 'pk:S', '--ops', ops, '--json', '--timeout', '90');
  expect(run.code).toBe(1);
  expect(run.stderr).toContain(`${ops}:4: the update op was rejected by the source table: `);
  expect(run.stderr).toMatch(/exceeded the maximum allowed size/i);
  // --json: one line on stdout even so, with the error, the exit code and the counts known.
  const lines = run.stdout.trim().split('\n');
  expect(lines).toHaveLength(1);
  const line = JSON.parse(lines[0]) as Record<string, unknown>;
  expect(line).toMatchObject({ exitCode: 1, seeded: 0, dlq: 0 });
  expect(String(line.error)).toContain(`${ops}:4: the update op was rejected by the source table`);
  expect(line.ops).toBe(2);
});
