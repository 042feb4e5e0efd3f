import { CfnResource } from 'aws-cdk-lib';
import type { CfnQueue } from 'aws-cdk-lib/aws-sqs';
import { deployedDefinition, readDynamicPath, resolveTemplateValue, type LocalTargetSpec } from '../../local/deployed-definition';

/**
 * Local mode reads its settings from the synthesized ReplicationStack (local/deployed-definition.ts):
 * what the template says is what the emulators get, and a construct change shows up with no other edit.
 */
const keySchema = { partitionKey: { name: 'pk', type: 'S' as const }, sortKey: { name: 'sk', type: 'N' as const } };
const one: LocalTargetSpec[] = [{ name: 'local', tableName: 'target' }];

describe('deployedDefinition', () => {
  const def = deployedDefinition({ keySchema, targets: one });

  it('reads the pipe, mapping, queues and functions the constructs synthesize', () => {
    expect(def.pipes).toHaveLength(1);
    const [pipe] = def.pipes;
    const [target] = def.targets;
    expect(pipe).toMatchObject({
      name: 'ddbrepl-local-local', startingPosition: 'TRIM_HORIZON', maximumRetryAttempts: 10, bisectOnFailure: true,
      messageGroupIdPath: '$.groupId', messageDeduplicationIdPath: '$.eventId', targetQueueLogicalId: target?.queue.logicalId,
    });
    expect(pipe?.filterPatterns).toBeUndefined();
    expect(pipe?.deadLetterQueueLogicalId).toBeDefined();
    expect(target).toMatchObject({ name: 'local', tableName: 'target', pipeLogicalId: pipe?.logicalId });
    expect(target?.eventSourceMapping).toMatchObject({ batchSize: 10, reportBatchItemFailures: true, maximumConcurrency: 10, enabled: true });
    expect(target?.queue).toMatchObject({
      queueName: 'ddbrepl-local-local.fifo', fifo: true, contentBasedDeduplication: false, deduplicationScope: 'messageGroup',
      fifoThroughputLimit: 'perMessageGroupId', visibilityTimeoutSeconds: 360, messageRetentionSeconds: 1_209_600, maximumMessageBytes: 1_048_576,
      redrive: { deadLetterQueueLogicalId: target?.deadLetterQueue.logicalId, maxReceiveCount: 5 },
    });
    expect(target?.deadLetterQueue).toMatchObject({ fifo: true, queueName: 'ddbrepl-local-local-dlq.fifo' });
    expect(target?.applyFunction.timeoutSeconds).toBe(60);
    expect(target?.applyFunction.environment).toMatchObject({ TARGET_TABLE_NAME: 'target', TARGET_EXTERNAL_ID: 'ddbrepl-local-external-id' });
  });

  it('follows the config: options and filters change the definition', () => {
    const changed = deployedDefinition({
      keySchema,
      targets: [{ name: 'local', tableName: 'target', filter: { partitionKeyPrefixes: ['user#'] }, options: { pipeBatchSize: 3, applyTimeoutSeconds: 7, applyBatchSize: 4, maxReceiveCount: 2, startingPosition: 'LATEST' } }],
    });
    expect(changed.pipes[0]).toMatchObject({ batchSize: 3, startingPosition: 'LATEST' });
    expect(JSON.stringify(changed.pipes[0]?.filterPatterns)).toContain('{"prefix":"user#"}');
    expect(changed.targets[0]?.queue).toMatchObject({ visibilityTimeoutSeconds: 42, redrive: { maxReceiveCount: 2 } });
    expect(changed.targets[0]?.eventSourceMapping.batchSize).toBe(4);
    expect(changed.targets[0]?.applyFunction.timeoutSeconds).toBe(7);
  });

  it('follows a construct change made with an escape hatch, with no other edit', () => {
    const amended = deployedDefinition({
      keySchema,
      targets: one,
      amendStack: (stack) => {
        const target = stack.replication.targets[0];
        (target.queue.node.defaultChild as CfnQueue).visibilityTimeout = 17;
        (target.pipe.node.defaultChild as CfnResource).addPropertyOverride('SourceParameters.DynamoDBStreamParameters.BatchSize', 2);
        (target.eventSourceMapping.node.defaultChild as CfnResource).addPropertyOverride('FunctionResponseTypes', []);
      },
    });
    expect(amended.targets[0]?.queue.visibilityTimeoutSeconds).toBe(17);
    expect(amended.pipes[0]?.batchSize).toBe(2);
    expect(amended.targets[0]?.eventSourceMapping.reportBatchItemFailures).toBe(false);
  });

  it('three targets: two pipes, the third target fed by the first pipe\'s enrichment (ATTACHED_TARGETS resolved to local URLs)', () => {
    const three = deployedDefinition({ keySchema, targets: ['t1', 't2', 't3'].map((name) => ({ name, tableName: `target-${name}` })) });
    expect(three.pipes).toHaveLength(2);
    const [t1, t2, t3] = three.targets;
    expect(t3?.pipeLogicalId).toBe(t1?.pipeLogicalId);
    expect(t2?.pipeLogicalId).not.toBe(t1?.pipeLogicalId);
    const enrich = three.functions.get(three.pipes.find((p) => p.logicalId === t1?.pipeLogicalId)!.enrichmentFunctionLogicalId)!;
    const attached = JSON.parse(resolveTemplateValue(enrich.environment.ATTACHED_TARGETS, { url: (id) => `http://local/${id}`, arn: (id) => `arn:${id}` })) as { targetName: string; queueUrl: string }[];
    expect(attached).toEqual([expect.objectContaining({ targetName: 't3', queueUrl: `http://local/${t3?.queue.logicalId}` })]);
  });

  it('enrichment-send: the enrichment gets DELIVERY and OWNER_QUEUE_URL', () => {
    const send = deployedDefinition({ keySchema, targets: [{ name: 'local', tableName: 'target', options: { delivery: 'enrichment-send' } }] });
    const env = send.functions.get(send.pipes[0].enrichmentFunctionLogicalId)!.environment;
    expect(env.DELIVERY).toBe('enrichment-send');
    expect(resolveTemplateValue(env.OWNER_QUEUE_URL, { url: (id) => `url:${id}`, arn: (id) => id })).toBe(`url:${send.targets[0]?.queue.logicalId}`);
  });
});

describe('readDynamicPath', () => {
  it('reads $.field and $.a.b from the enrichment\'s element; a missing value is undefined', () => {
    expect(readDynamicPath('$.groupId', { groupId: 'g' })).toBe('g');
    expect(readDynamicPath('$.dynamodb.Keys', { dynamodb: { Keys: { pk: { S: 'x' } } } })).toBe('{"pk":{"S":"x"}}');
    expect(readDynamicPath('$.missing', { groupId: 'g' })).toBeUndefined();
    expect(readDynamicPath('static-group', {})).toBe('static-group');
  });
});
