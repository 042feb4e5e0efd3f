import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from './support/wait';
import { DeleteItemCommand, GetItemCommand, PutItemCommand, UpdateItemCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { DeleteMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { toWireAttributeMap } from '../../handlers/core/attribute-value';
import { runCli as run } from '../support/run-cli';
import { queueDepth, totalDepth } from '../../cli/operator/queues';
import { runReplay } from '../../cli/operator/replay';
import { runVerify } from '../../cli/operator/verify';
import { localTarget } from '../../cli/local/target';
import type { OperatorTarget } from '../../cli/targets/types';
import { sessionFileContent, startControlServer, writeSessionFile, type ControlServer } from '../../local/control';
import { startLocalSession, type LocalSession } from '../../local/session';

/**
 * The operator commands (replay, verify, status, pause, resume) driven through main() against one
 * kept local session: real DynamoDB Local, fauxqs, pipe and event-source emulators, real handlers,
 * the control API and session file exactly as `local --keep` serves them. Apply failures come from
 * the fault proxy (apply-throttle=1 until messages dead-letter).
 */
jest.setTimeout(240_000);

// A sort key, so the dead-letter tests can put their items into one partition: fauxqs hands out one
// message per group per receive, so every apply batch then holds one message, and apply-throttle=1
// rejects a one-item BatchWriteItem outright (bigger batches are partly written, by design).
const keySchema = { partitionKey: { name: 'pk', type: 'S' as const }, sortKey: { name: 'sk', type: 'N' as const } };
let session: LocalSession;
let control: ControlServer;
let dir: string;
let file: string;
let target: OperatorTarget;

beforeAll(async () => {
  session = await startLocalSession({ keySchema, seed: 11, maxReceiveCount: 2, visibilityTimeoutSeconds: 1, applyTimeoutSeconds: 5 });
  await session.startReplication();
  control = await startControlServer(session);
  dir = mkdtempSync(join(tmpdir(), 'operator-cli-'));
  file = join(dir, 'local-session.json');
  writeSessionFile(file, sessionFileContent(session, control, keySchema));
  target = localTarget({ sessionFile: file });
});

afterAll(async () => {
  target?.close();
  await control?.close();
  await session?.stop();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});


const put = (item: Record<string, AttributeValue>, table = session.sourceTableName) => session.sourceClient.send(new PutItemCommand({ TableName: table, Item: item }));
/** Items a..h share one partition (one FIFO group); the others each have their own. */
const DLQ_ITEMS = 'abcdefgh';
const key = (name: string): Record<string, AttributeValue> =>
  name.length === 1 && DLQ_ITEMS.includes(name) ? { pk: { S: 'dlq' }, sk: { N: String(DLQ_ITEMS.indexOf(name)) } } : { pk: { S: name }, sk: { N: '0' } };
const getTarget = async (name: string) => {
  const out = await session.targetClient.send(new GetItemCommand({ TableName: session.targetTableName, Key: key(name), ConsistentRead: true }));
  return out.Item === undefined ? undefined : toWireAttributeMap(out.Item);
};
const dlqDepth = async () => totalDepth(await queueDepth(target.sqs, target.deadLetterQueueUrl));

async function waitForDlq(n: number, timeoutMs = 90_000): Promise<void> {
  let seen = 0;
  await waitFor(() => `the DLQ to hold ${n} messages (has ${seen})`, async () => (seen = await dlqDepth()) >= n, { timeoutMs, intervalMs: 200 });
}

/** Writes `items` while the apply always fails, until all of them are in the DLQ; then heals the apply. */
async function deadLetter(items: Record<string, AttributeValue>[]): Promise<void> {
  const before = await dlqDepth();
  session.setFaults({ applyThrottle: 1 });
  for (const item of items) await put(item);
  await waitForDlq(before + items.length);
  session.setFaults({});
  await session.waitForDrain();
}

async function expectConverged(): Promise<void> {
  await session.waitForDrain();
  expect(await session.diffTables()).toMatchObject({ missing: 0, extra: 0, different: 0 });
}

test('replay after the item changed again: the target gets the newer value, never the dead-lettered image', async () => {
  await deadLetter([{ ...key('a'), v: { N: '1' } }, { ...key('b'), v: { N: '1' } }, { ...key('c'), v: { N: '1' } }]);
  expect(await getTarget('a')).toBeUndefined();
  // a changes again, this time replicated normally; the DLQ still holds its older image.
  await put({ ...key('a'), v: { N: '2' } });
  await session.waitForDrain();
  expect(await getTarget('a')).toEqual({ ...key('a'), v: { N: '2' } });

  const status = await run('status', '--local', file);
  expect(status.code).toBe(0);
  expect(status.stdout).toContain(`DLQ has 3 messages: run \`ddb-replicate replay --local ${file}\``);
  const failing = await run('status', '--local', file, '--fail-on-warning', '--json');
  expect(failing.code).toBe(1);
  const report = JSON.parse(failing.stdout) as { targets: { target: string; dlq: { visible: number }; warnings: { code: string }[] }[] };
  expect(report.targets[0]).toMatchObject({ target: 'local', dlq: { visible: 3 } });
  expect(report.targets[0].warnings.map((w) => w.code)).toEqual(['dlq-not-empty']);

  const dry = await run('replay', '--local', file, '--dry-run');
  expect(dry.code).toBe(0);
  // All three share one FIFO group: a dry run holds the first and cannot see past it.
  expect(dry.stdout).toContain('the DLQ holds 3 messages; of the 1 read, 1 would be replayed as RESYNC and 0 are undecodable');
  expect(dry.stdout).toContain('2 more wait behind those in their FIFO groups');
  expect(dry.stdout).not.toContain('"dlq"'); // ids only, no keys or values
  expect(await dlqDepth()).toBe(3);

  const replay = await run('replay', '--local', file, '--json');
  expect(replay.code).toBe(0);
  expect(JSON.parse(replay.stdout)).toMatchObject({ target: 'local', dryRun: false, dlqAtStart: 3, replayed: 3, undecodable: [], remaining: 0, interrupted: false });
  await expectConverged();
  expect(await getTarget('a')).toEqual({ ...key('a'), v: { N: '2' } });
  expect(await getTarget('b')).toEqual({ ...key('b'), v: { N: '1' } });
});

test('replay interrupted (--max, Ctrl-C, a crash between send and delete) and run again: nothing twice, nothing lost', async () => {
  await deadLetter(['d', 'e', 'f', 'g'].map((name) => ({ ...key(name), v: { S: `first ${name}` } })));
  // The source moves on for some of them while they sit in the DLQ.
  await put({ ...key('e'), v: { S: 'second e' } });
  await session.sourceClient.send(new DeleteItemCommand({ TableName: session.sourceTableName, Key: key('f') }));
  await session.waitForDrain();

  const first = await run('replay', '--local', file, '--max', '1');
  expect(first.code).toBe(0);
  expect(first.stdout).toMatch(/replayed 1 message as RESYNC, 0 undecodable kept in the DLQ, 3 remaining/);

  // Ctrl-C after the first message: it stops there.
  const abort = new AbortController();
  const interrupted = await runReplay({ target, signal: abort.signal, onProgress: (p) => p.processed === 1 && abort.abort() });
  expect(interrupted).toMatchObject({ replayed: 1, interrupted: true, remaining: 2 });
  await session.waitForDrain();
  const appliedBefore = session.stats().messagesApplied;

  // A crash after the send, before the delete: the message stays in the DLQ, its RESYNC is queued.
  let deletes = 0;
  const crashing: SQSClient = new Proxy(target.sqs, {
    get: (real, prop) => (prop === 'send'
      ? (command: unknown) => {
        if (command instanceof DeleteMessageCommand && deletes++ === 0) return Promise.reject(Object.assign(new Error('socket hang up'), { name: 'NetworkingError' }));
        return real.send(command as never);
      }
      : Reflect.get(real, prop) as unknown),
  });
  await expect(runReplay({ target: { ...target, sqs: crashing } })).rejects.toThrow(/sqs:DeleteMessage on DLQ .* failed: NetworkingError: socket hang up \(0 replayed before the failure; running replay again is safe/);
  expect(await dlqDepth()).toBe(2);

  const again = await run('replay', '--local', file);
  expect(again.code).toBe(0);
  expect(again.stdout).toMatch(/replayed 2 messages as RESYNC, 0 undecodable kept in the DLQ, 0 remaining/);
  await expectConverged();
  // 2 messages left after the interruption → exactly 2 RESYNCs applied: the re-sent one was deduplicated.
  expect(session.stats().messagesApplied - appliedBefore).toBe(2);
  expect(await dlqDepth()).toBe(0);
  expect(await getTarget('e')).toEqual({ ...key('e'), v: { S: 'second e' } });
  expect(await getTarget('f')).toBeUndefined();
});

test('verify finds planted differences by exact value, --repair fixes them all', async () => {
  const items: Record<string, AttributeValue>[] = [
    { ...key('num'), x: { N: '1.5' } },
    { ...key('num-scale'), x: { N: '1.5' } },
    { ...key('set'), tags: { SS: ['a', 'b', 'c'] } },
    { ...key('set-order'), tags: { SS: ['x', 'y', 'z'] } },
    { ...key('changed'), name: { S: 'old' }, doc: { M: { l: { L: [{ N: '1' }, { NULL: true }] } } } },
    { ...key('missing'), v: { N: '1' } },
    ...Array.from({ length: 30 }, (_, i) => ({ ...key(`ok-${i}`), v: { N: String(i) } })),
  ];
  for (const item of items) await put(item);
  await expectConverged();

  // Plant the differences directly in the target table (it has no stream: nothing replicates back).
  const tgt = session.targetTableName;
  await put({ ...key('num'), x: { N: '1.50001' } }, tgt);
  await session.targetClient.send(new UpdateItemCommand({ TableName: tgt, Key: key('num-scale'), UpdateExpression: 'SET x = :x', ExpressionAttributeValues: { ':x': { N: '1.50' } } }));
  await put({ ...key('set'), tags: { SS: ['a', 'b', 'd'] } }, tgt);
  await put({ ...key('set-order'), tags: { SS: ['z', 'y', 'x'] } }, tgt);
  await put({ ...key('changed'), name: { S: 'old' }, doc: { M: { l: { L: [{ N: '1' }, { BOOL: false }] } } } }, tgt);
  await session.targetClient.send(new DeleteItemCommand({ TableName: tgt, Key: key('missing') }));
  await put({ ...key('extra'), v: { N: '9' } }, tgt);

  const reportFile = join(dir, 'verify.jsonl');
  const found = await run('verify', '--local', file, '--segments', '3', '--buckets', '64', '--settle', '0', '--report', reportFile, '--json');
  expect(found.code).toBe(1);
  const report = JSON.parse(found.stdout) as { missing: number; extra: number; different: number; diffs: { kind: string; keys: { pk: { S: string } }; source?: unknown }[] };
  expect(report).toMatchObject({ missing: 1, extra: 1, different: 3, extraChecked: true, buckets: 64, report: reportFile });
  // The report: one line per difference, keys only.
  const lines = readFileSync(reportFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { kind: string; keys: { pk: { S: string } } });
  expect(lines.map((d) => `${d.kind} ${d.keys.pk.S}`).sort()).toEqual(['different changed', 'different num', 'different set', 'extra extra', 'missing missing']);
  expect(lines.every((d) => Object.keys(d).join() === 'kind,keys')).toBe(true);
  expect(report.diffs.map((d) => `${d.kind} ${d.keys.pk.S}`).sort()).toEqual(['different changed', 'different num', 'different set', 'extra extra', 'missing missing']);
  expect(report.diffs.every((d) => d.source === undefined)).toBe(true);
  expect(found.stdout).not.toContain('1.50001');

  const text = await run('verify', '--local', file, '--settle', '0', '--report', join(dir, 'text.jsonl'));
  expect(text.code).toBe(1);
  expect(text.stdout).toContain('5 differences: 1 missing in the target, 1 extra in the target, 3 different');
  expect(text.stdout).toContain('different {"pk":{"S":"num"},"sk":{"N":"0"}}');
  expect(text.stdout).toContain(`fix them with \`ddb-replicate verify --local ${file} --repair\``);
  expect(text.stdout).not.toContain('1.50001');
  const shown = await run('verify', '--local', file, '--settle', '0', '--show-values', '--report', join(dir, 'shown.jsonl'));
  expect(shown.stdout).toContain('"x":{"N":"1.50001"}');

  const sample = await run('verify', '--local', file, '--settle', '0', '--sample', '1', '--json', '--report', join(dir, 'sample.jsonl'));
  expect(sample.code).toBe(1);
  expect(JSON.parse(sample.stdout)).toMatchObject({ mode: 'sample', missing: 1, extra: 0, different: 3, extraChecked: false });

  const repair = await run('verify', '--local', file, '--settle', '0', '--repair', '--report', join(dir, 'repair.jsonl'));
  expect(repair.code).toBe(1);
  expect(repair.stdout).toContain('repair: enqueued 5 RESYNCs');
  await session.waitForDrain();
  const clean = await run('verify', '--local', file);
  expect(clean).toMatchObject({ code: 0 });
  expect(clean.stdout).toContain('target equals source ✓');
  expect(await getTarget('extra')).toBeUndefined();
  expect(await getTarget('num')).toEqual({ ...key('num'), x: { N: '1.5' } });
});

test('verify: a change still in flight is not reported — re-read after the settle time, it has landed', async () => {
  await put({ ...key('in-flight'), v: { S: 'old' } });
  await expectConverged();
  await session.pauseApply();
  await put({ ...key('in-flight'), v: { S: 'new' } });
  // The settle wait is where the pipeline catches up: resume the apply and wait for it to drain.
  const result = await runVerify({
    source: target.source, target: target.target, keySchema, segments: 2, settleMs: 60_000,
    sleep: async (ms) => {
      expect(ms).toBe(60_000);
      await session.resumeApply();
      await session.waitForDrain();
    },
  });
  expect(result).toMatchObject({ mismatchingBuckets: 1, missing: 0, extra: 0, different: 0, resolvedOnRecheck: 1, settledMs: 60_000 });
});

test('pause buffers changes and status says so; resume applies them', async () => {
  const paused = await run('pause', '--local', file);
  expect(paused.code).toBe(0);
  expect(paused.stdout).toContain('apply of target local is paused (event source mapping local event-source emulator: Disabled)');
  expect(paused.stdout).toContain(`Resume with \`ddb-replicate resume --local ${file}\``);
  expect((await run('pause', '--local', file)).stdout).toContain('is already paused');

  await put({ ...key('while-paused'), v: { N: '1' } });
  await waitFor('the paused change to be queued', async () => totalDepth(await queueDepth(target.sqs, target.queueUrl)) > 0, { intervalMs: 100 });
  const status = await run('status', '--local', file);
  expect(status.code).toBe(0);
  expect(status.stdout).toContain(`apply is paused: run \`ddb-replicate resume --local ${file}\``);
  expect(status.stdout).toMatch(/queue\s+1 \(1 visible, 0 in flight\)/);
  expect(await getTarget('while-paused')).toBeUndefined();

  const resumed = await run('resume', '--local', file, '--json');
  expect(resumed.code).toBe(0);
  expect(JSON.parse(resumed.stdout)).toMatchObject({ target: 'local', state: 'Enabled', unchanged: false });
  await expectConverged();
  const healthy = await run('status', '--local', file);
  expect(healthy.stdout).toContain('✓ no warnings');
  expect(healthy.stdout).toMatch(/applied \(1 min\)\s+\d+/);
});

test('a wrong target name or a session that is not running: plain errors', async () => {
  const wrong = await run('status', '--local', file, '--target', 'dr');
  expect(wrong).toMatchObject({ code: 2, stderr: 'error: target "dr" is not configured in the local session; configured targets: local\n' });
  const none = await run('replay', '--local', join(dir, 'nope.json'));
  expect(none.code).toBe(1);
  expect(none.stderr).toContain('does not exist; start one with `ddb-replicate local --keep --demo`');
});
