import { setTimeout as sleep } from 'node:timers/promises';
import { DeleteItemCommand, PutItemCommand, UpdateItemCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { DeleteMessageBatchCommand, ReceiveMessageCommand, SendMessageCommand, SQSClient, type Message } from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { METRICS_NAMESPACE_DEFAULT } from '../../handlers/core/env';
import { createLogger } from '../../handlers/core/logger';
import { METRIC_NAMES } from '../../handlers/core/metrics';
import { toSqsRecord } from '../../local/event-source-emulator';
import { LOCAL_REGION, LOCAL_REPLICATION_NAME, LOCAL_TARGET, startLocalSession, type LocalSession } from '../../local/session';

/**
 * No item value reaches a log line, and the apply's metrics are valid EMF (issue 8).
 *
 * A local session (DynamoDB Local, fauxqs, local STS, the real enrich and apply handlers) runs a
 * workload whose every attribute value carries a marker — strings, numbers with unusual digits,
 * binaries, set members, values nested in maps and lists — with LOG_LEVEL=DEBUG and faults on, so
 * the warning and error paths log too. Everything the handlers write (Powertools writes JSON lines to
 * process.stdout; EMF goes through console.log) is captured in-process and searched for the markers.
 */
jest.setTimeout(120_000);

const keySchema = { partitionKey: { name: 'pk', type: 'S' as const }, sortKey: { name: 'sk', type: 'N' as const } };
const bytes = (text: string) => new Uint8Array(Buffer.from(text, 'utf8'));

/** Marker text → also searched as base64 when it is a binary (that is how B values travel in JSON). */
const MARKERS = {
  partitionKey: 'mk-pk-Zq7Wv',
  sortKey: '-8086.4242421',
  string: 'mk-str-Xy9Jd',
  number: '31415926535897932384626433832795028841',
  smallNumber: '-0.000420042',
  binary: 'mk-bin-Qk3Pz',
  stringSetMember: 'mk-ss-Rt5Lm',
  numberSetMember: '777000111.25',
  binarySetMember: 'mk-bs-Hh2Nc',
  mapValue: 'mk-map-Vb8Ks',
  listValue: 'mk-list-Gf4Tw',
  listNumber: '60221407600000000000000.5',
  updatedString: 'mk-upd-Jw6Yq',
  largeItemValue: 'mk-large-Pp1Ox',
} as const;
const BINARY_MARKERS = [MARKERS.binary, MARKERS.binarySetMember] as const;

/** Every form in which a marker could leak: as written, and binaries also base64-encoded. */
const forbidden: string[] = [
  ...Object.values(MARKERS),
  ...BINARY_MARKERS.map((m) => Buffer.from(m, 'utf8').toString('base64')),
];

function item(i: number): Record<string, AttributeValue> {
  return {
    pk: { S: `${MARKERS.partitionKey}-${i}` },
    sk: { N: MARKERS.sortKey },
    s: { S: MARKERS.string },
    n: { N: MARKERS.number },
    small: { N: MARKERS.smallNumber },
    b: { B: bytes(MARKERS.binary) },
    ss: { SS: [MARKERS.stringSetMember, `${MARKERS.stringSetMember}-${i}`] },
    ns: { NS: [MARKERS.numberSetMember] },
    bs: { BS: [bytes(MARKERS.binarySetMember)] },
    m: { M: { mapped: { S: MARKERS.mapValue }, deeper: { M: { l: { L: [{ S: MARKERS.listValue }, { N: MARKERS.listNumber }, { NULL: true }] } } } } },
    l: { L: [{ S: MARKERS.listValue }, { M: { k: { S: MARKERS.mapValue } } }] },
  };
}
const keyOf = (i: number) => ({ pk: { S: `${MARKERS.partitionKey}-${i}` }, sk: { N: MARKERS.sortKey } });

/** Captures every write to stdout/stderr and every console call until `stop()`; nothing is passed through. */
function captureOutput(): { text: () => string; lines: () => string[]; stop: () => void } {
  const chunks: string[] = [];
  const record = (...args: unknown[]) => {
    chunks.push(`${args.map((a) => (typeof a === 'string' ? a : a instanceof Uint8Array ? Buffer.from(a).toString('utf8') : JSON.stringify(a))).join(' ')}\n`);
  };
  const spies = [
    jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => (record(chunk), true)),
    jest.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => (record(chunk), true)),
    ...(['log', 'info', 'warn', 'error', 'debug', 'trace'] as const).map((method) => jest.spyOn(console, method).mockImplementation(record)),
  ];
  return {
    text: () => chunks.join(''),
    lines: () => chunks.join('').split('\n').filter((line) => line.trim() !== ''),
    stop: () => spies.forEach((spy) => spy.mockRestore()),
  };
}

const lambdaContext = (): Context => {
  const deadline = Date.now() + 30_000;
  return {
    callbackWaitsForEmptyEventLoop: true, functionName: 'ddbrepl-local-apply', functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${LOCAL_REGION}:000000000000:function:ddbrepl-local-apply`, memoryLimitInMB: '512',
    awsRequestId: 'observability-test', logGroupName: '/aws/lambda/ddbrepl-local-apply', logStreamName: 'local',
    getRemainingTimeInMillis: () => deadline - Date.now(), done: () => undefined, fail: () => undefined, succeed: () => undefined,
  };
};

let session: LocalSession;
const emulatorLog: string[] = [];

beforeAll(async () => {
  session = await startLocalSession({
    keySchema,
    handlerLogLevel: 'DEBUG',
    // Small enough that the large item below goes as RESYNC (the apply then reads it from the source).
    resyncThresholdBytes: 4096,
    // Throttles, crashes and enrichment failures make the handlers take their warn/error paths.
    faults: { applyThrottle: 0.15, applyCrash: 0.05, enrichFailure: 0.1 },
    seed: 8,
    // The undecodable messages below reach the DLQ after three receives.
    maxReceiveCount: 3,
    visibilityTimeoutSeconds: 1,
    onLog: (line) => emulatorLog.push(line),
  });
});

afterAll(async () => {
  await session?.stop();
});

/**
 * Undecodable messages that carry markers: the apply logs a warning for each (the path where an
 * error message could quote the body) and they end in the DLQ.
 */
const POISON_BODIES = [
  `{"v":1,"op":"PUT","image":{"s":{"S":"${MARKERS.string}"}} not json`,
  JSON.stringify({
    v: 1, op: 'PUT', table: 'source', keys: { pk: { S: MARKERS.partitionKey }, sk: { N: MARKERS.sortKey } },
    image: { pk: { S: MARKERS.partitionKey }, sk: { N: MARKERS.sortKey }, bad: { Q: MARKERS.mapValue }, n: { N: `${MARKERS.number}x` } },
    seq: '1', at: 1, eventId: 'poison-2', groupId: 'poison-2', origin: 'user',
  }),
  JSON.stringify({ v: 1, op: MARKERS.listValue, table: MARKERS.string, keys: { pk: { S: MARKERS.partitionKey } }, seq: MARKERS.number, at: MARKERS.smallNumber, eventId: 'poison-3', groupId: 'poison-3', origin: MARKERS.string }),
];

async function sendPoison(): Promise<void> {
  const sqs = new SQSClient({ region: LOCAL_REGION, endpoint: session.endpoints.sqs });
  try {
    for (const [i, body] of POISON_BODIES.entries()) {
      await sqs.send(new SendMessageCommand({ QueueUrl: session.queueUrl, MessageBody: body, MessageGroupId: `poison-${i}`, MessageDeduplicationId: `poison-${i}` }));
    }
  } finally {
    sqs.destroy();
  }
}

async function write(send: () => Promise<unknown>, i: number): Promise<void> {
  await send();
  session.noteWrite(keyOf(i), Date.now());
}

test('with LOG_LEVEL=DEBUG and faults, no marker of any attribute value appears in anything the handlers write', async () => {
  const capture = captureOutput();
  // The capture sees what a Powertools logger writes (else the search below would prove nothing).
  const probe = 'capture-probe-Mn3Bv';
  createLogger('capture-check', { LOG_LEVEL: 'DEBUG' }).debug('capture check', { probe });
  try {
    await session.startReplication();
    await sendPoison();
    const table = session.sourceTableName;
    for (let i = 0; i < 12; i += 1) await write(() => session.sourceClient.send(new PutItemCommand({ TableName: table, Item: item(i) })), i);
    for (let i = 0; i < 12; i += 3) {
      await write(() => session.sourceClient.send(new UpdateItemCommand({
        TableName: table, Key: keyOf(i),
        UpdateExpression: 'SET s = :s, m.mapped = :m ADD ss :ss REMOVE small',
        ExpressionAttributeValues: { ':s': { S: MARKERS.updatedString }, ':m': { S: `${MARKERS.mapValue}-2` }, ':ss': { SS: [MARKERS.updatedString] } },
      })), i);
    }
    for (let i = 1; i < 12; i += 4) await write(() => session.sourceClient.send(new DeleteItemCommand({ TableName: table, Key: keyOf(i) })), i);
    // Over the RESYNC threshold: keys-only envelope, then the apply's consistent read of the source.
    await write(() => session.sourceClient.send(new PutItemCommand({ TableName: table, Item: { ...item(99), big: { S: MARKERS.largeItemValue.repeat(800) } } })), 99);

    await session.waitForDrain({ timeoutMs: 90_000 });
    session.setFaults({});
  } finally {
    capture.stop();
  }

  // The markers really went through: the target holds them, byte for byte.
  const diff = await session.diffTables();
  expect({ missing: diff.missing, extra: diff.extra, different: diff.different, deadLettered: session.stats().deadLettered }).toEqual({ missing: 0, extra: 0, different: 0, deadLettered: POISON_BODIES.length });

  // The capture saw the handlers' structured logs, including the failure paths the faults cause.
  const logs = capture.lines().flatMap((line) => {
    try {
      return [JSON.parse(line) as Record<string, unknown>];
    } catch {
      return [];
    }
  });
  const messages = new Set(logs.map((l) => l.message));
  expect([...messages]).toEqual(expect.arrayContaining(['records enriched', 'batch applied']));
  expect(logs.filter((l) => l.level === 'WARN' && l.message === 'invalid message body').length).toBeGreaterThanOrEqual(POISON_BODIES.length);

  const text = capture.text();
  expect(text).toContain(probe);
  const leaks = forbidden.filter((marker) => text.includes(marker));
  expect(leaks).toEqual([]);
});

test('the apply handler\'s EMF output is valid: namespace, Replication and Target dimensions, every documented metric with a value', async () => {
  session.setFaults({});
  await session.pauseApply();
  const table = session.sourceTableName;
  const count = 4;
  for (let i = 200; i < 200 + count; i += 1) await write(() => session.sourceClient.send(new PutItemCommand({ TableName: table, Item: item(i) })), i);

  // The pipe emulator (real enrich) fills the queue; take the envelopes the way the event source would.
  const sqs = new SQSClient({ region: LOCAL_REGION, endpoint: session.endpoints.sqs });
  const messages: Message[] = [];
  const deadline = Date.now() + 30_000;
  while (messages.length < count && Date.now() < deadline) {
    const out = await sqs.send(new ReceiveMessageCommand({ QueueUrl: session.queueUrl, MaxNumberOfMessages: 10, MessageSystemAttributeNames: ['All'], VisibilityTimeout: 60, WaitTimeSeconds: 1 }));
    messages.push(...(out.Messages ?? []));
    if ((out.Messages ?? []).length === 0) await sleep(100);
  }
  expect(messages).toHaveLength(count);

  // A second instance of the real apply handler, configured like the session's (its env is still
  // set) but with METRICS_SINK=stdout, as the CDK construct leaves it.
  const previousSink = process.env.METRICS_SINK;
  process.env.METRICS_SINK = 'stdout';
  let apply: (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;
  try {
    await jest.isolateModulesAsync(async () => {
      apply = (await import('../../handlers/apply')).handler;
    });
  } finally {
    if (previousSink === undefined) delete process.env.METRICS_SINK;
    else process.env.METRICS_SINK = previousSink;
  }

  const queueArn = `arn:aws:sqs:${LOCAL_REGION}:000000000000:${session.queueUrl.split('/').pop()}`;
  const capture = captureOutput();
  let response: SQSBatchResponse;
  try {
    response = await apply!({ Records: messages.map((m) => toSqsRecord(m, queueArn, LOCAL_REGION)) }, lambdaContext());
  } finally {
    capture.stop();
  }
  expect(response.batchItemFailures).toEqual([]);
  await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: session.queueUrl, Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })) }));
  sqs.destroy();
  await session.resumeApply();

  const emf = capture.lines().flatMap((line) => {
    try {
      const parsed = JSON.parse(line) as Record<string, unknown>;
      return '_aws' in parsed ? [parsed] : [];
    } catch {
      return [];
    }
  });
  expect(emf.length).toBeGreaterThanOrEqual(1);
  const documented = Object.values(METRIC_NAMES);
  const seen = new Map<string, number[]>();
  for (const record of emf) {
    const meta = record._aws as { Timestamp: unknown; CloudWatchMetrics: { Namespace: unknown; Dimensions: unknown; Metrics: { Name: string; Unit?: string }[] }[] };
    expect(typeof meta.Timestamp).toBe('number');
    expect(meta.CloudWatchMetrics.length).toBeGreaterThanOrEqual(1);
    expect(record.Target).toBe(LOCAL_TARGET.name);
    expect(record.Replication).toBe(LOCAL_REPLICATION_NAME);
    for (const directive of meta.CloudWatchMetrics) {
      expect(directive.Namespace).toBe(METRICS_NAMESPACE_DEFAULT);
      expect(directive.Dimensions).toEqual([['Replication', 'Target']]);
      for (const metric of directive.Metrics) {
        expect(documented).toContain(metric.Name);
        expect(metric.Unit).toBe(metric.Name === METRIC_NAMES.replicationLagMs ? 'Milliseconds' : 'Count');
        // Each metric's value sits at the root under its name: a number, or an array of numbers.
        const values = [record[metric.Name]].flat();
        expect(values.length).toBeGreaterThanOrEqual(1);
        for (const value of values) expect(Number.isFinite(value)).toBe(true);
        seen.set(metric.Name, [...(seen.get(metric.Name) ?? []), ...(values as number[])]);
      }
    }
  }
  expect([...seen.keys()].sort()).toEqual([...documented].sort());
  const sum = (name: string) => (seen.get(name) ?? []).reduce((a, b) => a + b, 0);
  expect(sum(METRIC_NAMES.changesApplied)).toBe(count);
  expect(sum(METRIC_NAMES.applyFailures)).toBe(0);
  expect(seen.get(METRIC_NAMES.replicationLagMs)).toHaveLength(count);
  for (const lag of seen.get(METRIC_NAMES.replicationLagMs)!) expect(lag).toBeGreaterThanOrEqual(0);

  // Metrics and the logs around them carry no values either.
  expect(forbidden.filter((marker) => capture.text().includes(marker))).toEqual([]);

  await session.waitForDrain({ timeoutMs: 30_000 });
  const diff = await session.diffTables();
  expect({ missing: diff.missing, extra: diff.extra, different: diff.different }).toEqual({ missing: 0, extra: 0, different: 0 });
});
