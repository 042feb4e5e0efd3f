import { CreateTableCommand, DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { applyBatch } from '../../handlers/core/apply-batch';
import { encodeEnvelope } from '../../handlers/core/envelope';
import { groupIdFor } from '../../handlers/core/group-id';
import { createLogger } from '../../handlers/core/logger';
import { createReplicationMetrics, MemoryMetricsSink } from '../../handlers/core/metrics';
import { startDynamoDbLocal, type DynamoDbLocal } from '../../local/dynamodb-local';
import { EventSourceEmulator, type EventSourceEvent } from '../../local/event-source-emulator';
import { startFaultProxy, type FaultProxy } from '../../local/fault-proxy';
import { deployedDefinition } from '../../local/deployed-definition';
import { FaultInjector } from '../../local/faults';
import { createDefinedQueues, startSqsLocal, type SqsLocal } from '../../local/sqs-local';

/**
 * One throttle at the target delays its group by about the first visibility backoff (2 s), not by
 * the queue's visibility timeout (30 s here): the real apply core, the real event-source emulator,
 * fauxqs (which honours ChangeMessageVisibility) and DynamoDB Local behind the fault proxy.
 * Asserted on the emulator's event log, not on how long the test took.
 */
jest.setTimeout(90_000);

const VISIBILITY_TIMEOUT_SECONDS = 30;
const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
const keySchema = { partitionKey: { name: 'pk', type: 'S' as const } };

let ddb: DynamoDbLocal;
let sqsLocal: SqsLocal;
let proxy: FaultProxy;

afterAll(async () => {
  await proxy?.stop();
  await Promise.all([ddb?.stop(), sqsLocal?.stop()]);
});

it('retries a throttled message after its backoff, not after the visibility timeout', async () => {
  [ddb, sqsLocal] = await Promise.all([startDynamoDbLocal(), startSqsLocal()]);
  // Exactly one throttle: the fault is switched off as soon as the proxy has injected it.
  const faults = new FaultInjector({ applyThrottle: 1 }, 1);
  proxy = await startFaultProxy({ upstream: ddb.endpoint, faults, onLog: (line) => { if (line.includes('ProvisionedThroughputExceededException')) faults.setRates({}); } });
  const region = 'us-east-1';
  const sqs = new SQSClient({ region, credentials, endpoint: sqsLocal.endpoint });
  const target = new DynamoDBClient({ region, credentials, endpoint: proxy.endpoint, maxAttempts: 1 });
  await new DynamoDBClient({ region, credentials, endpoint: ddb.endpoint }).send(new CreateTableCommand({
    TableName: 'target', BillingMode: 'PAY_PER_REQUEST',
    KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }], AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
  }));
  // The target's queues as the synthesized stack defines them (local/deployed-definition.ts), visibility timeout set here.
  const [targetDef] = deployedDefinition({ keySchema, targets: [{ name: 'backoff', tableName: 'target' }] }).targets;
  const queueOf = await createDefinedQueues(sqs, [targetDef.deadLetterQueue, targetDef.queue], { visibilityTimeoutFor: (q) => (q.logicalId === targetDef.queue.logicalId ? VISIBILITY_TIMEOUT_SECONDS : undefined) });
  const queues = queueOf(targetDef.queue.logicalId);
  const keys = { pk: { S: 'item-1' } };
  const groupId = groupIdFor(keys, keySchema);
  await sqs.send(new SendMessageCommand({
    QueueUrl: queues.queueUrl, MessageGroupId: groupId, MessageDeduplicationId: 'e1',
    MessageBody: encodeEnvelope({ v: 1, op: 'PUT', table: 'source', keys, image: { ...keys, v: { N: '1' } }, seq: '1', at: Date.now(), eventId: 'e1', groupId, origin: 'user' }),
  }));

  const events: EventSourceEvent[] = [];
  let deleted: () => void = () => undefined;
  const done = new Promise<void>((resolve) => { deleted = resolve; });
  const emulator = new EventSourceEmulator({
    sqs, queueUrl: queues.queueUrl, queueArn: queues.queueArn, region, faults,
    visibilityTimeoutSeconds: VISIBILITY_TIMEOUT_SECONDS, maximumConcurrency: 1,
    apply: (event, context) => applyBatch(event.Records, context.getRemainingTimeInMillis(), {
      config: { sourceTableName: 'source', targetTableName: 'target', keySchema, visibilityBackoff: { baseSeconds: 2, maxSeconds: VISIBILITY_TIMEOUT_SECONDS } },
      targetClient: target, sourceClient: target, sqsClient: sqs,
      metrics: createReplicationMetrics({ namespace: 'Test', replication: 'test', target: 'local', sink: new MemoryMetricsSink() }),
      logger: createLogger('backoff-test', { LOG_LEVEL: 'SILENT' }),
      writeOptions: { maxAttempts: 1 },
    }),
    onEvent: (event) => {
      events.push(event);
      if (event.type === 'delete') deleted();
    },
  });
  emulator.start();
  try {
    await done;
  } finally {
    await emulator.stop();
  }

  expect(events.map((e) => [e.type, e.receiveCount])).toEqual([['receive', 1], ['fail', 1], ['receive', 2], ['delete', 2]]);
  expect(proxy.stats().throttled).toBe(1);
  const failedAt = events[1].at;
  const visibleAgainAt = events[2].at;
  // The backoff (2 s) was honoured: not at once, and nowhere near the 30 s visibility timeout.
  expect(visibleAgainAt - failedAt).toBeGreaterThanOrEqual(1000);
  expect(visibleAgainAt - failedAt).toBeLessThan((VISIBILITY_TIMEOUT_SECONDS * 1000) / 2);
  const item = await new DynamoDBClient({ region, credentials, endpoint: ddb.endpoint }).send(new GetItemCommand({ TableName: 'target', Key: keys, ConsistentRead: true }));
  expect(item.Item).toEqual({ pk: { S: 'item-1' }, v: { N: '1' } });
});
