import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * The black-box interface of docs/architecture.md#local-mode: the real CLI as a child process (`node bin/ddb-replicate.js
 * local …`) on small JSONL files. Only the first case starts emulators.
 */
jest.setTimeout(120_000);

const BIN = join(__dirname, '..', '..', 'bin', 'ddb-replicate.js');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

function cli(args: string[], timeoutMs = 110_000): Promise<Run> {
  const started = Date.now();
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { timeout: timeoutMs, env: { ...process.env, DEBUG: '' } }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : null;
      resolve({ code, stdout, stderr, ms: Date.now() - started });
    });
  });
}

let dir: string;
const file = (name: string, lines: unknown[]): string => {
  const path = join(dir, name);
  writeFileSync(path, `${lines.map((line) => (typeof line === 'string' ? line : JSON.stringify(line))).join('\n')}\n`);
  return path;
};

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'cli-local-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('ddb-replicate local (child process)', () => {
  it('replicates seed items and ops under faults (poison messages included) and prints one JSON line', async () => {
    const items = file('items.jsonl', Array.from({ length: 30 }, (_, i) => ({ pk: { S: `user#${i % 6}` }, sk: { N: String(i) }, v: { N: '12345678901234567890123456789012345678' } })));
    const ops = file('ops.jsonl', [
      { op: 'put', item: { pk: { S: 'user#new' }, sk: { N: '1' }, tags: { SS: ['a', 'b'] } } },
      { op: 'update', key: { pk: { S: 'user#1' }, sk: { N: '1' } }, set: { v: { N: '2' }, note: { S: '' } }, remove: [] },
      { op: 'delete', key: { pk: { S: 'user#2' }, sk: { N: '2' } } },
      { op: 'delete', key: { pk: { S: 'never' }, sk: { N: '0' } } },
      '',
      { op: 'update', key: { pk: { S: 'user#3' }, sk: { N: '3' } }, remove: ['v'] },
    ]);
    const run = await cli(['local', '--key-schema', 'pk:S,sk:N', '--seed-items', items, '--ops', ops, '--faults', 'apply-throttle=0.2,duplicate-delivery=0.2,poison-message=1', '--seed', '11', '--json']);
    expect(run.stderr).toBe(''); // stderr is not a TTY: with --json, no progress
    expect(run.code).toBe(0);
    const lines = run.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const result = JSON.parse(lines[0]) as Record<string, unknown>;
    expect(Object.keys(result)).toEqual(['seeded', 'ops', 'applied', 'dlq', 'diffs', 'lagP50Ms', 'lagP99Ms', 'seconds']);
    // Every pipe batch brought a poison message: they end in the DLQ, and the target still equals the source.
    expect(result).toMatchObject({ seeded: 30, ops: 5, diffs: 0 });
    expect(result.dlq).toBeGreaterThanOrEqual(1);
    // 30 seeds + 4 ops: deleting a key that never existed writes no stream record, so nothing to apply.
    // At least once, not exactly: SQS delivers a batch again when it outlives the queue's visibility
    // timeout (2 s locally), which a loaded machine can make happen; diffs 0 is the exactness claim.
    expect(result.applied).toBeGreaterThanOrEqual(34);
    expect(typeof result.lagP50Ms).toBe('number');
    expect(result.lagP99Ms as number).toBeGreaterThanOrEqual(result.lagP50Ms as number);
    expect(result.seconds).toBeGreaterThan(0);
  });

  it('with --bootstrap, copies the seed items by the initial load: only the ops travel through the stream', async () => {
    const items = file('bootstrap-items.jsonl', Array.from({ length: 40 }, (_, i) => ({ pk: { S: `b#${i % 5}` }, sk: { N: String(i) }, v: { S: `seed ${i}` } })));
    const ops = file('bootstrap-ops.jsonl', [
      { op: 'update', key: { pk: { S: 'b#1' }, sk: { N: '1' } }, set: { v: { S: 'changed' } } },
      { op: 'delete', key: { pk: { S: 'b#2' }, sk: { N: '2' } } },
      { op: 'put', item: { pk: { S: 'b#new' }, sk: { N: '0' } } },
    ]);
    const run = await cli(['local', '--key-schema', 'pk:S,sk:N', '--seed-items', items, '--ops', ops, '--bootstrap', '--json']);
    expect(run.code).toBe(0);
    const result = JSON.parse(run.stdout) as { applied: number };
    expect(result).toMatchObject({ seeded: 40, ops: 3, dlq: 0, diffs: 0 });
    // At least once (a batch outliving the 2 s visibility timeout comes again); diffs 0 is the exactness claim.
    expect(result.applied).toBeGreaterThanOrEqual(3);
    expect(result.applied).toBeLessThan(40); // the 40 seed items were copied, not streamed
  });

  it('with --targets 3, fans out to three target tables under faults and checks each', async () => {
    const items = file('fanout-items.jsonl', Array.from({ length: 20 }, (_, i) => ({ pk: { S: `f#${i % 4}` }, sk: { N: String(i) }, v: { S: `seed ${i}` } })));
    const ops = file('fanout-ops.jsonl', [
      { op: 'update', key: { pk: { S: 'f#1' }, sk: { N: '1' } }, set: { v: { S: 'changed' } } },
      { op: 'delete', key: { pk: { S: 'f#2' }, sk: { N: '2' } } },
      { op: 'put', item: { pk: { S: 'f#new' }, sk: { N: '0' }, b: { B: 'AAE=' } } },
    ]);
    const run = await cli(['local', '--key-schema', 'pk:S,sk:N', '--seed-items', items, '--ops', ops, '--targets', '3', '--faults', 'apply-throttle=0.2,apply-crash=0.1', '--seed', '5', '--json']);
    expect(run.code).toBe(0);
    const result = JSON.parse(run.stdout) as { applied: number };
    expect(result).toMatchObject({ seeded: 20, ops: 3, dlq: 0, diffs: 0 });
    // Each of the 23 changes is applied at least once per target (stats add the three targets up): a
    // batch that outlives the 2 s local visibility timeout on a loaded machine is delivered again, as
    // SQS does. diffs 0 is the exactness claim.
    expect(result.applied).toBeGreaterThanOrEqual(69);
  });

  it('refuses --targets with --bootstrap (exit 2, nothing started)', async () => {
    const items = file('fanout-bootstrap.jsonl', [{ pk: { S: 'a' } }]);
    const run = await cli(['local', '--key-schema', 'pk:S', '--seed-items', items, '--targets', '2', '--bootstrap']);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe('error: --bootstrap copies into one target table; run it without --targets (or with --targets 1)\n');
  });

  it('fails fast with exit 2 on a malformed line, naming file and line, before starting anything', async () => {
    const items = file('good.jsonl', [{ pk: { S: 'a' } }]);
    const ops = file('bad.jsonl', [{ op: 'delete', key: { pk: { S: 'a' } } }, { op: 'put', item: { pk: { S: 'b' } } }, '{"op":"put",']);
    const run = await cli(['local', '--key-schema', 'pk:S', '--seed-items', items, '--ops', ops]);
    expect(run.code).toBe(2);
    // Exactly one line: no progress, no emulator output — validation runs before anything starts.
    expect(run.stderr).toMatch(/^error: .*:3: not valid JSON \(.*\)\n$/);
    expect(run.stderr.startsWith(`error: ${ops}:3: `)).toBe(true);
    expect(run.stdout).toBe('');
  });

  it('exits 2 on a key attribute of the wrong type', async () => {
    const items = file('wrong-type.jsonl', [{ pk: { S: 'a' }, sk: { N: '1' } }, { pk: { S: 'b' }, sk: { S: 'two' } }]);
    const run = await cli(['local', '--key-schema', 'pk:S,sk:N', '--seed-items', items, '--json']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`${items}:2: key attribute "sk" must be of type N, got S`);
    // --json: exactly one JSON line on stdout, failures included.
    expect(run.stdout.split('\n')).toHaveLength(2);
    expect(JSON.parse(run.stdout)).toEqual({ error: `${items}:2: key attribute "sk" must be of type N, got S`, exitCode: 2 });
  });

  it('prints help', async () => {
    const run = await cli(['local', '--help']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Usage: ddb-replicate local [options]');
    for (const option of ['--key-schema', '--seed-items', '--ops', '--faults', '--seed', '--bootstrap', '--json', '--demo', '--timeout', '--targets']) {
      expect(run.stdout).toContain(option);
    }
  });
});
