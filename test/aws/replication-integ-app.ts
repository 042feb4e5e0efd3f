import { createHash } from 'node:crypto';
import { Duration, RemovalPolicies, RemovalPolicy, Stack, type App } from 'aws-cdk-lib';
import { AttributeType, StreamViewType, TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { Code, Function as LambdaFunction, Runtime } from 'aws-cdk-lib/aws-lambda';
import { ExpectedResult, IntegTest, Match, type IApiCall } from '@aws-cdk/integ-tests-alpha';
import { ReplicationStack } from '../../infra/stacks/replication-stack';
import { replicationStackName } from '../../infra/stacks/stack-output-ids';
import { TargetAccessStack, targetAccessStackName } from '../../infra/stacks/target-access-stack';
import { parseReplicationConfig, type ReplicationConfig } from '../../schemas/replication-config';

/**
 * The opt-in real-AWS test (README "Proving it on AWS"): a source table with a stream, a target
 * table and the project's own ReplicationStack + TargetAccessStack (same account: the cross-account
 * path is the same code), then assertions that run as custom resources while integ-runner deploys.
 * The one step that needs the operator CLI — `ddb-replicate replay` — runs in the postDeploy hook
 * (test/aws/replay-phase.ts), after every assertion here has passed and before integ-runner destroys.
 */

export const INTEG = {
  replicationName: 'integ-test',
  targetName: 'aws',
  sourceTable: 'ddbrepl-integ-test-source',
  targetTable: 'ddbrepl-integ-test-target',
  fixturesStack: 'DdbreplIntegTest-tables',
  assertionStack: 'DdbreplIntegTest-assertions',
} as const;

/** Where the test deploys: the CDK CLI's account and Region (the caller's credentials), or fixed ones for offline synth. */
export interface IntegEnvironment {
  readonly account: string;
  readonly region: string;
}
export const OFFLINE_ENVIRONMENT: IntegEnvironment = { account: '123456789012', region: 'us-east-1' };

/** App context of the integ app: the stacks reference each other with plain exports, destroyed in reverse order. */
export const INTEG_APP_CONTEXT = { '@aws-cdk/core:defaultCrossStackReferences': 'strong' } as const;

/** Item keys the phases write (sort key always "a"). */
export const KEYS = {
  change: 'it#change',
  large: 'it#large',
  group: 'it#group',
  poison: 'it#poison',
} as const;

export function itemKey(pk: string): Record<string, { S: string }> {
  return { pk: { S: pk }, sk: { S: 'a' } };
}

/**
 * The MessageGroupId the enrichment must have given an item, computed here independently of
 * handlers/core/group-id.ts: base64url(sha256(canonical partition key)), the canonical form of a
 * string key being the JSON text ["S", value].
 */
export function expectedGroupId(pk: string): string {
  return createHash('sha256').update(JSON.stringify(['S', pk]), 'utf8').digest('base64url');
}

/** The operator's config file for what was deployed: the test config with the table's real stream ARN. */
export function deployedConfigJson(env: IntegEnvironment, tableStreamArn: string): string {
  const config = integConfig(env);
  return JSON.stringify({ ...config, source: { ...config.source, tableStreamArn } }, null, 2);
}

/** The operator command the replay phase runs (after `ddb-replicate`), against the deployed stacks. */
export function replayArgs(configFile: string): string[] {
  return ['replay', '--target', INTEG.targetName, '--config', configFile, '--json'];
}

/**
 * A well-formed v1 envelope that apply cannot write: its image gives the partition key the wrong
 * type, so DynamoDB rejects the put (ValidationException) every time and the message dead-letters.
 * Its keys are right, so `replay` can turn it into a RESYNC of the key.
 */
export function poisonEnvelope(): string {
  return JSON.stringify({
    v: 1,
    op: 'PUT',
    table: INTEG.sourceTable,
    keys: itemKey(KEYS.poison),
    image: { pk: { N: '1' }, sk: { S: 'a' } },
    seq: '1',
    at: 1,
    eventId: 'integ-poison',
    groupId: expectedGroupId(KEYS.poison),
    origin: 'user',
  });
}

/**
 * The config the test deploys, validated like an operator's. Fast failure settings so the DLQ phase
 * takes minutes, not half an hour: visibility = 6 × 10 s, dead-lettered after 3 receives. Not fewer:
 * phase 3 receives one message itself, and a first AssumeRole may fail while IAM propagates.
 */
export function integConfig({ account, region }: IntegEnvironment): ReplicationConfig {
  // The stream ARN is known only once the table exists: a placeholder here, the table's token in the stack.
  return parseReplicationConfig({
    replicationName: INTEG.replicationName,
    source: {
      account,
      region,
      tableName: INTEG.sourceTable,
      tableStreamArn: `arn:aws:dynamodb:${region}:${account}:table/${INTEG.sourceTable}/stream/placeholder`,
      keySchema: { partitionKey: { name: 'pk', type: 'S' }, sortKey: { name: 'sk', type: 'S' } },
    },
    targets: [{
      name: INTEG.targetName,
      account,
      region,
      tableName: INTEG.targetTable,
      externalId: 'ddbrepl-integ-test',
      options: { applyTimeoutSeconds: 10, maxReceiveCount: 3 },
    }],
  }, 'integ test config');
}

export interface ReplicationIntegApp {
  readonly integ: IntegTest;
  readonly replicationStack: ReplicationStack;
}

export function buildReplicationIntegApp(app: App, env: IntegEnvironment): ReplicationIntegApp {
  const fixtures = new Stack(app, INTEG.fixturesStack, { env });
  const tableProps = {
    partitionKey: { name: 'pk', type: AttributeType.STRING },
    sortKey: { name: 'sk', type: AttributeType.STRING },
    removalPolicy: RemovalPolicy.DESTROY,
  };
  const source = new TableV2(fixtures, 'Source', { ...tableProps, tableName: INTEG.sourceTable, dynamoStream: StreamViewType.NEW_AND_OLD_IMAGES });
  const target = new TableV2(fixtures, 'Target', { ...tableProps, tableName: INTEG.targetTable });
  // A 300 KB item cannot travel as a custom resource property: this function writes it and compares.
  const largeItem = new LambdaFunction(fixtures, 'LargeItem', {
    runtime: Runtime.NODEJS_22_X,
    handler: 'index.handler',
    timeout: Duration.seconds(30),
    environment: { SOURCE: source.tableName, TARGET: target.tableName, PK: KEYS.large },
    code: Code.fromInline(LARGE_ITEM_HANDLER),
  });
  source.grantReadWriteData(largeItem);
  target.grantReadData(largeItem);

  if (source.tableStreamArn === undefined) throw new Error('the source table has no stream');
  const parsed = integConfig(env);
  const config: ReplicationConfig = { ...parsed, source: { ...parsed.source, tableStreamArn: source.tableStreamArn } };
  const [targetConfig] = config.targets;
  if (targetConfig === undefined) throw new Error('integ config has no target');
  const access = new TargetAccessStack(app, targetAccessStackName(config.replicationName, targetConfig.name), {
    env,
    replicationName: config.replicationName,
    targetName: targetConfig.name,
    sourceAccount: env.account,
    targetTableName: targetConfig.tableName,
    externalId: targetConfig.externalId,
  });
  access.addStackDependency(fixtures);
  const replicationStack = new ReplicationStack(app, replicationStackName(config.replicationName), { config, env });
  // Target side first, as the README's deploy steps say: the first changes can then be written at once.
  replicationStack.addStackDependency(access);
  // Nothing may outlive the test (log groups, the export bucket default to RETAIN).
  for (const stack of [fixtures, access, replicationStack]) RemovalPolicies.of(stack).destroy();

  const integ = new IntegTest(app, 'ReplicationInteg', {
    testCases: [fixtures, access, replicationStack],
    // In the same environment as the stacks under test, so it can reference their queues and mapping.
    assertionStack: new Stack(app, INTEG.assertionStack, { env }),
    diffAssets: false,
    stackUpdateWorkflow: false,
    hooks: { postDeploy: ['npx tsx replay-phase.ts'] },
  });
  const replication = replicationStack.replication.targets[0];
  if (replication === undefined) throw new Error('replication stack has no target');
  const a = integ.assertions;
  const wait = (call: IApiCall, minutes = 5): IApiCall => call.waitForAssertions({ totalTimeout: Duration.minutes(minutes), interval: Duration.seconds(10) });
  const put = (pk: string, attributes: Record<string, unknown>): IApiCall => a.awsApiCall('DynamoDB', 'putItem', { TableName: INTEG.sourceTable, Item: { ...itemKey(pk), ...attributes } });
  const targetItem = (pk: string, item: Record<string, unknown>): IApiCall =>
    wait(a.awsApiCall('DynamoDB', 'getItem', { TableName: INTEG.targetTable, Key: itemKey(pk), ConsistentRead: true }).expect(ExpectedResult.objectLike({ Item: { ...itemKey(pk), ...item } })));
  const targetCount = (pk: string, count: number): IApiCall =>
    wait(a.awsApiCall('DynamoDB', 'query', {
      TableName: INTEG.targetTable, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': { S: pk } }, ConsistentRead: true, Select: 'COUNT',
    }).expect(ExpectedResult.objectLike({ Count: count })));
  const mapping = replication.eventSourceMapping.eventSourceMappingId;
  const setMapping = (enabled: boolean): IApiCall => a.awsApiCall('Lambda', 'updateEventSourceMapping', { UUID: mapping, Enabled: enabled });
  const mappingState = (state: string): IApiCall => wait(a.awsApiCall('Lambda', 'getEventSourceMapping', { UUID: mapping }).expect(ExpectedResult.objectLike({ State: state })));

  const steps: IApiCall[] = [
    // 1. put, update, delete reach the target.
    put(KEYS.change, { v: { N: '1' } }),
    targetItem(KEYS.change, { v: { N: '1' } }),
    a.awsApiCall('DynamoDB', 'updateItem', {
      TableName: INTEG.sourceTable, Key: itemKey(KEYS.change), UpdateExpression: 'SET #v = :v, #u = :u', ExpressionAttributeNames: { '#v': 'v', '#u': 'updated' }, ExpressionAttributeValues: { ':v': { N: '2' }, ':u': { BOOL: true } },
    }),
    targetItem(KEYS.change, { v: { N: '2' }, updated: { BOOL: true } }),
    a.awsApiCall('DynamoDB', 'deleteItem', { TableName: INTEG.sourceTable, Key: itemKey(KEYS.change) }),
    targetCount(KEYS.change, 0),
    // 2. A 300 KB item: over resyncThresholdBytes, so it travels as RESYNC and apply re-reads the source.
    a.invokeFunction({ functionName: largeItem.functionName, payload: JSON.stringify({ action: 'put' }) }),
    wait(a.invokeFunction({ functionName: largeItem.functionName, payload: JSON.stringify({ action: 'compare' }) })
      .expect(ExpectedResult.objectLike({ Payload: Match.stringLikeRegexp(`equal:${300 * 1024}`) }))),
    // 3. MessageGroupId and MessageDeduplicationId as the pipe sent them. Pausing apply keeps the
    //    message in the queue; VisibilityTimeout 0 leaves it there for apply once resumed. An exact
    //    MessageGroupId match settles docs/aws-contracts.md's open fact: the target's dynamic paths
    //    ($.groupId, $.eventId) read the enrichment's output (a stream record has neither field).
    setMapping(false),
    mappingState('Disabled'),
    put(KEYS.group, { v: { N: '1' } }),
    wait(a.awsApiCall('SQS', 'receiveMessage', {
      QueueUrl: replication.queue.queueUrl,
      MessageSystemAttributeNames: ['MessageGroupId', 'MessageDeduplicationId'],
      // The deprecated name too, in case the assertion provider's SDK predates MessageSystemAttributeNames.
      AttributeNames: ['MessageGroupId', 'MessageDeduplicationId'],
      MaxNumberOfMessages: 10,
      VisibilityTimeout: 0,
      WaitTimeSeconds: 5,
    }).expect(ExpectedResult.objectLike({
      Messages: Match.arrayWith([Match.objectLike({
        Attributes: { MessageGroupId: expectedGroupId(KEYS.group), MessageDeduplicationId: Match.stringLikeRegexp('^[0-9a-f]+$') },
        Body: Match.serializedJson(Match.objectLike({ v: 1, op: 'PUT', groupId: expectedGroupId(KEYS.group), keys: itemKey(KEYS.group) })),
      })]),
    }))),
    setMapping(true),
    mappingState('Enabled'),
    targetItem(KEYS.group, { v: { N: '1' } }),
    // 4. A message apply cannot write reaches the DLQ; the target has lost the item meanwhile.
    //    replay-phase.ts then runs `ddb-replicate replay` and waits for the target to be back.
    put(KEYS.poison, { v: { S: 'source' } }),
    targetItem(KEYS.poison, { v: { S: 'source' } }),
    a.awsApiCall('DynamoDB', 'deleteItem', { TableName: INTEG.targetTable, Key: itemKey(KEYS.poison) }),
    a.awsApiCall('SQS', 'sendMessage', {
      QueueUrl: replication.queue.queueUrl, MessageBody: poisonEnvelope(), MessageGroupId: expectedGroupId(KEYS.poison), MessageDeduplicationId: 'integ-poison',
    }),
    wait(a.awsApiCall('SQS', 'getQueueAttributes', { QueueUrl: replication.deadLetterQueue.queueUrl, AttributeNames: ['ApproximateNumberOfMessages'] })
      .expect(ExpectedResult.objectLike({ Attributes: { ApproximateNumberOfMessages: '1' } })), 10),
  ];
  steps.reduce((previous, next) => previous.next(next));
  return { integ, replicationStack };
}

// Node 22 Lambda runtime: the AWS SDK v3 is built in. Writes a 300 KB item, or compares it in both tables.
const LARGE_ITEM_HANDLER = `
const { DynamoDBClient, PutItemCommand, GetItemCommand } = require('@aws-sdk/client-dynamodb');
const db = new DynamoDBClient({});
const Key = { pk: { S: process.env.PK }, sk: { S: 'a' } };
exports.handler = async (event) => {
  if (event.action === 'put') {
    await db.send(new PutItemCommand({ TableName: process.env.SOURCE, Item: { ...Key, blob: { S: 'x'.repeat(300 * 1024) } } }));
    return 'written';
  }
  const [source, target] = await Promise.all([process.env.SOURCE, process.env.TARGET]
    .map((TableName) => db.send(new GetItemCommand({ TableName, Key, ConsistentRead: true }))));
  const blob = source.Item && source.Item.blob && source.Item.blob.S;
  return blob !== undefined && target.Item !== undefined && target.Item.blob && target.Item.blob.S === blob ? 'equal:' + blob.length : 'different';
};
`;
