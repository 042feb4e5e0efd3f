import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as dynamodbLocal from '../../local/dynamodb-local';
import * as sqsLocal from '../../local/sqs-local';
import { runCli } from '../support/run-cli';

/**
 * `ddb-replicate local` refuses every value class DynamoDB would refuse with exit 2 and
 * file:line: reason — before any emulator starts (so before anything is written).
 */
let dir: string;
const startDynamoDb = jest.spyOn(dynamodbLocal, 'startDynamoDbLocal');
const startSqs = jest.spyOn(sqsLocal, 'startSqsLocal');

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'cli-input-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
beforeEach(() => {
  startDynamoDb.mockClear();
  startSqs.mockClear();
});

const good = '{"op":"put","item":{"pk":{"S":"a"}}}\n';

it.each([
  ['a number with 39 significant digits', `${good}{"op":"put","item":{"pk":{"S":"b"},"n":{"N":"123456789012345678901234567890123456789"}}}\n`, 2, 'at n: a number with 39 significant digits; DynamoDB keeps at most 38'],
  ['a number beyond 9.99…E+125', `${good}{"op":"update","key":{"pk":{"S":"b"}},"set":{"n":{"N":"1E+126"}}}\n`, 2, 'at n: a number larger in magnitude'],
  ['a number below 1E-130', `${good}${good}{"op":"put","item":{"pk":{"S":"b"},"m":{"M":{"x":{"N":"1E-131"}}}}}\n`, 3, 'at m.x: a number smaller in magnitude'],
  ['NS duplicates by value', `{"op":"put","item":{"pk":{"S":"b"},"s":{"NS":["1","1.0"]}}}\n`, 1, 'at s: the NS set holds the same element twice (numbers compare by value: 1 and 1.0 are one)'],
  ['SS duplicates', `${good}{"op":"put","item":{"pk":{"S":"b"},"s":{"SS":["x","x"]}}}\n`, 2, 'at s: the SS set holds the same element twice'],
  ['an empty set', `${good}{"op":"put","item":{"pk":{"S":"b"},"s":{"BS":[]}}}\n`, 2, 'at s: an empty BS set'],
  ['a number key beyond the range', `{"op":"delete","key":{"pk":{"S":"b"}}}\n{"op":"put","item":{"pk":{"S":"c"},"k":{"N":"-1E+200"}}}\n`, 2, 'at k: a number larger in magnitude'],
])('exits 2 on %s, naming file and line, with no emulator started', async (_what, text, line, reason) => {
  const ops = join(dir, `ops-${line}-${reason.length}.jsonl`);
  writeFileSync(ops, text);
  const run = await runCli('local', '--key-schema', 'pk:S', '--ops', ops);
  expect(run.code).toBe(2);
  expect(run.stderr).toContain(`${ops}:${line}: `);
  expect(run.stderr).toContain(reason);
  expect(run.stdout).toBe('');
  expect(startDynamoDb).not.toHaveBeenCalled();
  expect(startSqs).not.toHaveBeenCalled();
});

it('exits 2 on invalid UTF-8 and on a byte-order mark after the first line, naming them', async () => {
  const latin1 = join(dir, 'latin1.jsonl');
  writeFileSync(latin1, Buffer.concat([Buffer.from(good), Buffer.from('{"op":"put","item":{"pk":{"S":"caf'), Buffer.from([0xe9]), Buffer.from('"}}}\n')]));
  const bad = await runCli('local', '--key-schema', 'pk:S', '--ops', latin1, '--json');
  expect(bad.code).toBe(2);
  expect(bad.stderr).toContain(`${latin1}:2: the line is not valid UTF-8`);
  expect(JSON.parse(bad.stdout)).toEqual({ error: expect.stringContaining(`${latin1}:2: the line is not valid UTF-8`), exitCode: 2 });
  const bom = join(dir, 'bom.jsonl');
  writeFileSync(bom, Buffer.concat([Buffer.from('{"pk":{"S":"a"}}\n'), Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"pk":{"S":"b"}}\n')]));
  const refused = await runCli('local', '--key-schema', 'pk:S', '--seed-items', bom);
  expect(refused.code).toBe(2);
  expect(refused.stderr).toContain(`${bom}:2: a UTF-8 byte-order mark (U+FEFF) starts this line`);
  expect(startDynamoDb).not.toHaveBeenCalled();
  expect(startSqs).not.toHaveBeenCalled();
});

it('validates a kept session (--keep) with the same input plan: exit 2, file:line, no emulator started', async () => {
  const ops = join(dir, 'kept-bad.jsonl');
  writeFileSync(ops, `${good}{"op":"put","item":{"pk":{"S":"b"},"s":{"SS":[]}}}\n`);
  const run = await runCli('local', '--keep', '--key-schema', 'pk:S', '--ops', ops);
  expect(run.code).toBe(2);
  expect(run.stderr).toContain(`${ops}:2: `);
  expect(run.stderr).toContain('at s: an empty SS set');
  const faults = await runCli('local', '--keep', '--demo', '--faults', 'apply-throttle=2');
  expect(faults.code).toBe(2);
  expect(startDynamoDb).not.toHaveBeenCalled();
  expect(startSqs).not.toHaveBeenCalled();
});

it('refuses --sampled-verify with several targets before anything starts (exit 2)', async () => {
  const run = await runCli('local', '--demo', '--targets', '2', '--sampled-verify', '--json');
  expect(run.code).toBe(2);
  expect(JSON.parse(run.stdout)).toEqual({ error: expect.stringContaining('--sampled-verify runs with one target'), exitCode: 2 });
  expect(startDynamoDb).not.toHaveBeenCalled();
  expect(startSqs).not.toHaveBeenCalled();
});
