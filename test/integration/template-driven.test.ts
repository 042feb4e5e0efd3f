import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { GetQueueAttributesCommand, SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { CfnResource } from 'aws-cdk-lib';
import type { CfnQueue } from 'aws-cdk-lib/aws-sqs';
import { LOCAL_REGION, startLocalSession, type LocalSession } from '../../local/session';

/**
 * One definition, two runtimes (docs/local-mode.md): a construct setting changed in the synthesized
 * stack — with no other edit — changes what the local emulators do. Here an escape hatch sets the
 * pipe's BatchSize to 2 and the queue's VisibilityTimeout to 7; the session keeps the template's
 * visibility timeout (no local override).
 */
jest.setTimeout(90_000);
const keySchema = { partitionKey: { name: 'pk', type: 'S' as const } };
let session: LocalSession;

beforeAll(async () => {
  session = await startLocalSession({
    keySchema,
    visibilityTimeoutSeconds: 'template',
    amendStack: (stack) => {
      const target = stack.replication.targets[0];
      (target.pipe.node.defaultChild as CfnResource).addPropertyOverride('SourceParameters.DynamoDBStreamParameters.BatchSize', 2);
      (target.queue.node.defaultChild as CfnQueue).visibilityTimeout = 7;
    },
  });
});

afterAll(async () => {
  await session?.stop();
});

test('the pipe emulator reads the template\'s batch size and the queue has the template\'s visibility timeout', async () => {
  expect(session.definition.pipes[0]?.batchSize).toBe(2);
  expect(session.localOverrides).toEqual([]);
  // Seven records wait in the stream before the pipe starts: without the change one call would take all seven.
  for (let i = 0; i < 7; i += 1) {
    await session.sourceClient.send(new PutItemCommand({ TableName: session.sourceTableName, Item: { pk: { S: `item-${i}` }, v: { N: String(i) } } }));
  }
  await session.startReplication();
  await session.waitForDrain({ timeoutMs: 60_000 });
  expect(session.stats().largestEnrichBatch).toBe(2);
  expect(session.stats().messagesApplied).toBe(7);
  expect(await session.diffTables()).toEqual({ missing: 0, extra: 0, different: 0, examples: [] });
  const sqs = new SQSClient({ region: LOCAL_REGION, endpoint: session.endpoints.sqs, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  const attributes = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: session.queueUrl, AttributeNames: ['VisibilityTimeout', 'RedrivePolicy', 'MessageRetentionPeriod'] }));
  expect(attributes.Attributes).toMatchObject({ VisibilityTimeout: '7', MessageRetentionPeriod: '1209600' });
  expect(JSON.parse(attributes.Attributes?.RedrivePolicy ?? '{}')).toMatchObject({ maxReceiveCount: 3 });

  // The local SQS refuses what SQS refuses, by name: the enrichment's own sends meet these limits too.
  const entries = (n: number, size: number) => Array.from({ length: n }, (_, i) => ({ Id: String(i), MessageBody: 'x'.repeat(size), MessageGroupId: `g${i}`, MessageDeduplicationId: `refusal-${n}-${i}` }));
  await expect(sqs.send(new SendMessageBatchCommand({ QueueUrl: session.queueUrl, Entries: entries(11, 10) }))).rejects.toMatchObject({ name: 'TooManyEntriesInBatchRequest' });
  await expect(sqs.send(new SendMessageBatchCommand({ QueueUrl: session.queueUrl, Entries: entries(6, 200_000) }))).rejects.toMatchObject({ name: 'BatchRequestTooLong' });
  sqs.destroy();
});
