import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { applyBatch } from '../../handlers/core/apply-batch';
import { encodeEnvelope } from '../../handlers/core/envelope';
import { groupIdFor } from '../../handlers/core/group-id';
import { createLogger } from '../../handlers/core/logger';
import { createReplicationMetrics, MemoryMetricsSink } from '../../handlers/core/metrics';
import { startDynamoDbLocal } from '../../local/dynamodb-local';
import { EventSourceEmulator, type EventSourceEvent } from '../../local/event-source-emulator';
import { startFaultProxy } from '../../local/fault-proxy';
import { deployedDefinition } from '../../local/deployed-definition';
import { FaultInjector } from '../../local/faults';
import { createDefinedQueues, startSqsLocal } from '../../local/sqs-local';
import { ratioRow, type SectionResult } from '../lib/report';
import { ratioSummary, summarize } from '../lib/stats';

/**
 * Time for a group to recover from one throttle at the target: from the failed apply to the change
 * being applied on its next delivery — before (the message waits out the queue's visibility
 * timeout) and after (apply sets a 2 s visibility backoff, handlers/core/visibility-backoff.ts).
 * Real apply core, event-source emulator, fauxqs, DynamoDB Local behind the fault proxy.
 */
export interface RecoveryBenchOptions {
  /** The queue's visibility timeout: what "before" waits. */
  visibilityTimeoutSeconds: number;
  reps: number;
  log: (line: string) => void;
}

const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
const region = 'us-east-1';
const keySchema = { partitionKey: { name: 'pk', type: 'S' as const } };

export async function runRecoveryBench(opts: RecoveryBenchOptions): Promise<SectionResult> {
  const [ddb, sqsLocal] = await Promise.all([startDynamoDbLocal(), startSqsLocal()]);
  const faults = new FaultInjector({}, 1);
  // One throttle per armed run: the fault switches itself off once injected.
  const proxy = await startFaultProxy({ upstream: ddb.endpoint, faults, onLog: (line) => { if (line.includes('ProvisionedThroughputExceededException')) faults.setRates({}); } });
  const sqs = new SQSClient({ region, credentials, endpoint: sqsLocal.endpoint });
  const target = new DynamoDBClient({ region, credentials, endpoint: proxy.endpoint, maxAttempts: 1 });
  try {
    await new DynamoDBClient({ region, credentials, endpoint: ddb.endpoint }).send(new CreateTableCommand({
      TableName: 'target', BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }], AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
    }));
    const recoveryMs = async (backoff: boolean, run: number): Promise<number> => {
      // The target's queues as the synthesized stack defines them (local/deployed-definition.ts), visibility timeout set here.
      const [targetDef] = deployedDefinition({ keySchema, targets: [{ name: `r${run}`, tableName: 'target' }] }).targets;
      const queueOf = await createDefinedQueues(sqs, [targetDef.deadLetterQueue, targetDef.queue], { visibilityTimeoutFor: (q) => (q.logicalId === targetDef.queue.logicalId ? opts.visibilityTimeoutSeconds : undefined) });
      const queues = queueOf(targetDef.queue.logicalId);
      const keys = { pk: { S: `item-${run}` } };
      const groupId = groupIdFor(keys, keySchema);
      await sqs.send(new SendMessageCommand({
        QueueUrl: queues.queueUrl, MessageGroupId: groupId, MessageDeduplicationId: `e${run}`,
        MessageBody: encodeEnvelope({ v: 1, op: 'PUT', table: 'source', keys, image: keys, seq: String(run), at: Date.now(), eventId: `e${run}`, groupId, origin: 'user' }),
      }));
      faults.setRates({ applyThrottle: 1 });
      const events: EventSourceEvent[] = [];
      let applied: () => void = () => undefined;
      const done = new Promise<void>((resolve) => { applied = resolve; });
      const emulator = new EventSourceEmulator({
        sqs, queueUrl: queues.queueUrl, queueArn: queues.queueArn, region, faults, visibilityTimeoutSeconds: opts.visibilityTimeoutSeconds, maximumConcurrency: 1,
        apply: (event, context) => applyBatch(event.Records, context.getRemainingTimeInMillis(), {
          config: { sourceTableName: 'source', targetTableName: 'target', keySchema, visibilityBackoff: { baseSeconds: 2, maxSeconds: opts.visibilityTimeoutSeconds } },
          targetClient: target, sourceClient: target, ...(backoff ? { sqsClient: sqs } : {}),
          metrics: createReplicationMetrics({ namespace: 'Bench', replication: 'bench', target: 'local', sink: new MemoryMetricsSink() }),
          logger: createLogger('bench-recovery', { LOG_LEVEL: 'SILENT' }),
          writeOptions: { maxAttempts: 1 },
        }),
        onEvent: (event) => { events.push(event); if (event.type === 'delete') applied(); },
      });
      emulator.start();
      try {
        await done;
      } finally {
        await emulator.stop();
      }
      const failedAt = events.find((e) => e.type === 'fail')?.at;
      const deletedAt = events.find((e) => e.type === 'delete')?.at;
      if (failedAt === undefined || deletedAt === undefined) throw new Error('no throttle was injected');
      return deletedAt - failedAt;
    };
    const before: number[] = [];
    const after: number[] = [];
    for (let rep = 0; rep < opts.reps; rep += 1) {
      before.push(await recoveryMs(false, 2 * rep));
      after.push(await recoveryMs(true, 2 * rep + 1));
      opts.log(`recovery rep ${rep + 1}/${opts.reps}: ${before[rep]} ms before, ${after[rep]} ms after`);
    }
    return {
      rows: [ratioRow(
        { section: 'recovery', metric: 'group recovery after one throttle (about the first 2 s backoff expected)', unit: 'ms', baselineLabel: `no backoff (visibility ${opts.visibilityTimeoutSeconds} s)`, target: 'info' },
        summarize(after), summarize(before), ratioSummary(before, after), null,
      )],
      data: { visibilityTimeoutSeconds: opts.visibilityTimeoutSeconds, beforeMs: before, afterMs: after },
    };
  } finally {
    await proxy.stop();
    await Promise.all([ddb.stop(), sqsLocal.stop()]);
  }
}
