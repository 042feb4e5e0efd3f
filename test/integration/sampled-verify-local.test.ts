import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * `ddb-replicate local --sampled-verify` with the target-drift fault: the real sampled-verify handler
 * runs on a short period against DynamoDB Local while the fault writes wrong values, extra items and
 * deletions straight into the target table. Seeded, so every run injects the same drift (600 ops at
 * 2%: a dozen drift writes, extra items among them, which replication can never undo by itself).
 * Nothing is timed: the run waits for its own events (drain, verification runs) before it reports.
 * Each run is the real CLI in a child process, as a user runs it (one local session per process).
 */
jest.setTimeout(240_000);

let dir: string;
let items: string;
let ops: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sampled-verify-local-'));
  const lines = (rows: unknown[]): string => `${rows.map((r) => JSON.stringify(r)).join('\n')}\n`;
  items = join(dir, 'items.jsonl');
  ops = join(dir, 'ops.jsonl');
  writeFileSync(items, lines(Array.from({ length: 100 }, (_, i) => ({ pk: { S: `k${i}` }, v: { N: String(i) }, doc: { M: { n: { N: '1.50' } } } }))));
  writeFileSync(ops, lines(Array.from({ length: 600 }, (_, i) => (i % 10 === 9
    ? { op: 'delete', key: { pk: { S: `k${(i * 7) % 150}` } } }
    : { op: 'put', item: { pk: { S: `k${(i * 7) % 150}` }, v: { N: String(i) } } }))));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const BIN = join(__dirname, '..', '..', 'bin', 'ddb-replicate.js');

function runCli(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { timeout: 200_000, env: { ...process.env, DEBUG: '' } }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : null, stdout, stderr });
    });
  });
}

const args = (...extra: string[]): string[] => ['local', '--key-schema', 'pk:S', '--seed-items', items, '--ops', ops, '--faults', 'target-drift=0.02', '--seed', '7', '--sampled-verify', '--verify-every', '1', '--json', ...extra];

interface Result { diffs: number; verifySampled: number; verifyMismatches: number; repaired: number }

test('with --auto-repair: drift is detected, repaired through RESYNCs, and the run ends with target == source', async () => {
  const run = await runCli(...args('--auto-repair'));
  expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
  const result = JSON.parse(run.stdout) as Result;
  expect(result.diffs).toBe(0);
  expect(result.verifyMismatches).toBeGreaterThan(0);
  expect(result.repaired).toBe(result.verifyMismatches);
  expect(result.verifySampled).toBeGreaterThan(0);
});

test('without --auto-repair: the drift is reported and the run exits 1', async () => {
  const run = await runCli(...args());
  expect({ code: run.code, stderr: run.stderr.slice(0, 300) }).toEqual({ code: 1, stderr: expect.stringMatching(/^target differs from source/) });
  const result = JSON.parse(run.stdout) as Result;
  expect(result.verifyMismatches).toBeGreaterThan(0);
  expect(result.repaired).toBe(0);
  expect(result.diffs).toBeGreaterThan(0);
  // Extra items written by the drift, which no replication undoes, are among them.
  const extra = /target differs from source: \d+ missing, (\d+) extra, \d+ different/.exec(run.stderr);
  expect(Number(extra?.[1])).toBeGreaterThan(0);
});
