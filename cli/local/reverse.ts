import { join } from 'node:path';
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient, UpdateTableCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBRecord } from 'aws-lambda';
import { ENV } from '../../handlers/core/env';
import { STATE_TABLE_KEY } from '../../handlers/core/replication-state';
import { readSessionFile } from '../../local/control';
import { deployedDefinition, functionEnvironment } from '../../local/deployed-definition';
import { EventSourceEmulator, lambdaContext, startApplyWorker, startHandlerWorker } from '../../local/event-source-emulator';
import { FaultInjector } from '../../local/faults';
import { PipeEmulator, type EnrichFn } from '../../local/pipe-emulator';
import { createDefinedQueues } from '../../local/sqs-local';
import type { ChangeEnvelopeV1 } from '../../schemas/change-envelope.v1';
import { CliError, EXIT } from '../errors';

/**
 * `reverse --local`: failback on the emulators. Next to a kept local session (after `cutover
 * --local`), it replicates the session's target table — now the primary — back into its source
 * table: the target table gets a NEW_AND_OLD_IMAGES stream, a pipe emulator reads it, the real
 * enrich and apply handlers run in worker threads with the reverse direction's environment (as two
 * more Lambda functions would), into a FIFO queue of its own. What `reverse` + `cdk deploy` +
 * `bootstrap` set up in AWS; no bootstrap is needed here because the tables were equal at the
 * cutover and the stream is enabled before the application writes to the new primary.
 */
export interface LocalReverse {
  readonly queueUrl: string;
  readonly deadLetterQueueUrl: string;
  readonly streamArn: string;
  /** Messages applied into the old source so far. */
  applied(): number;
  stop(): Promise<void>;
}

const HANDLERS = join(__dirname, '..', '..', 'handlers');

export async function startLocalReverse(sessionFile: string, opts: { onLog?: (line: string) => void } = {}): Promise<LocalReverse> {
  const session = readSessionFile(sessionFile);
  const clientConfig = { region: session.region, credentials: session.credentials };
  const dynamodb = new DynamoDBClient({ ...clientConfig, endpoint: session.endpoints.dynamodb });
  const streams = new DynamoDBStreamsClient({ ...clientConfig, endpoint: session.endpoints.dynamodb });
  const sqs = new SQSClient({ ...clientConfig, endpoint: session.endpoints.sqs });
  const stoppers: (() => Promise<void>)[] = [() => { for (const c of [dynamodb, streams, sqs]) c.destroy(); return Promise.resolve(); }];
  const stop = async (): Promise<void> => {
    for (const s of stoppers.reverse()) await s();
  };
  try {
    const table = (await dynamodb.send(new DescribeTableCommand({ TableName: session.targetTableName }))).Table;
    let streamArn = table?.StreamSpecification?.StreamEnabled === true ? table.LatestStreamArn : undefined;
    if (streamArn !== undefined && table?.StreamSpecification?.StreamViewType !== 'NEW_AND_OLD_IMAGES') {
      throw new CliError(`local table ${session.targetTableName} has a ${table?.StreamSpecification?.StreamViewType} stream; reverse needs NEW_AND_OLD_IMAGES`, EXIT.failure);
    }
    if (streamArn === undefined) {
      const out = await dynamodb.send(new UpdateTableCommand({ TableName: session.targetTableName, StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' } }));
      streamArn = out.TableDescription?.LatestStreamArn;
    }
    if (streamArn === undefined) throw new CliError(`DynamoDB Local enabled no stream on ${session.targetTableName}`, EXIT.failure);

    // The reverse direction's stack, synthesized as `cdk deploy` of the config `reverse` writes would
    // create it (local/deployed-definition.ts): its queues, pipe, mapping and function environments.
    const definition = deployedDefinition({ keySchema: session.keySchema, targets: [{ name: 'origin', tableName: session.sourceTableName }] });
    const [target] = definition.targets;
    const [pipeDef] = definition.pipes;
    if (target === undefined || pipeDef === undefined) throw new CliError('the reverse stack synthesized no target or pipe', EXIT.failure);
    const queueOf = await createDefinedQueues(sqs, definition.queues.values());
    // The reverse target's replication state table (its access stack would create it), named as the apply's environment names it.
    const stateTable = functionEnvironment(definition, target.applyFunction.logicalId, queueOf)[ENV.stateTableName];
    if (stateTable !== undefined) {
      await dynamodb.send(new CreateTableCommand({ TableName: stateTable, AttributeDefinitions: [{ AttributeName: STATE_TABLE_KEY, AttributeType: 'S' }], KeySchema: [{ AttributeName: STATE_TABLE_KEY, KeyType: 'HASH' }], BillingMode: 'PAY_PER_REQUEST' }))
        .catch((error: unknown) => {
          // Already there from an earlier `reverse --local` of this session.
          if (!(error instanceof Error && error.name === 'ResourceInUseException')) throw error;
        });
    }
    const queues = { ...queueOf(target.queue.logicalId), deadLetterQueueUrl: queueOf(target.deadLetterQueue.logicalId).queueUrl };
    const functionEnv = (logicalId: string): NodeJS.ProcessEnv => {
      const env: NodeJS.ProcessEnv = {
        ...process.env,
        ...functionEnvironment(definition, logicalId, queueOf),
        AWS_REGION: session.region,
        AWS_DEFAULT_REGION: session.region,
        AWS_ACCESS_KEY_ID: session.credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: session.credentials.secretAccessKey,
        AWS_ENDPOINT_URL_DYNAMODB: session.endpoints.dynamodb,
        AWS_ENDPOINT_URL_SQS: session.endpoints.sqs,
        AWS_ENDPOINT_URL_STS: session.endpoints.sts,
        // The stack names the local deployment's source table; in reverse the source is the old target.
        [ENV.sourceTableName]: session.targetTableName,
        [ENV.logLevel]: 'SILENT',
        [ENV.metricsSink]: 'off',
      };
      for (const name of ['AWS_SESSION_TOKEN', 'AWS_PROFILE']) delete env[name];
      return env;
    };
    const workers: { stop(): Promise<void> }[] = [];
    stoppers.push(async () => {
      for (const w of workers) await w.stop();
    });
    const enrichWorker = await startHandlerWorker<DynamoDBRecord[], ChangeEnvelopeV1[]>({ handlerModule: join(HANDLERS, 'enrich.ts'), env: functionEnv(pipeDef.enrichmentFunctionLogicalId) });
    workers.push(enrichWorker);
    const applyWorker = await startApplyWorker({ handlerModule: join(HANDLERS, 'apply.ts'), env: functionEnv(target.applyFunction.logicalId) });
    workers.push(applyWorker);
    const enrichTimeoutMs = (definition.functions.get(pipeDef.enrichmentFunctionLogicalId)?.timeoutSeconds ?? 60) * 1000;
    const enrich: EnrichFn = (records) => enrichWorker.invoke(records, lambdaContext('ddbrepl-back-enrich', session.region, enrichTimeoutMs));

    const faults = new FaultInjector({}, 1);
    const pipe = new PipeEmulator({
      streams, sqs, streamArn, pipe: pipeDef,
      target: { queueUrl: queues.queueUrl, fifo: target.queue.fifo, maximumMessageBytes: target.queue.maximumMessageBytes },
      ...(pipeDef.deadLetterQueueLogicalId === undefined ? {} : { deadLetterQueueUrl: queueOf(pipeDef.deadLetterQueueLogicalId).queueUrl }),
      enrich, faults, ...(opts.onLog === undefined ? {} : { onLog: opts.onLog }),
    });
    const eventSource = new EventSourceEmulator({
      sqs, queueUrl: queues.queueUrl, queueArn: queues.queueArn, region: session.region, apply: applyWorker.apply, faults,
      batchSize: target.eventSourceMapping.batchSize,
      reportBatchItemFailures: target.eventSourceMapping.reportBatchItemFailures,
      fifo: target.queue.fifo,
      visibilityTimeoutSeconds: target.queue.visibilityTimeoutSeconds,
      functionTimeoutSeconds: target.applyFunction.timeoutSeconds,
      functionName: 'ddbrepl-back-origin-apply',
      ...(opts.onLog === undefined ? {} : { onLog: opts.onLog }),
    });
    stoppers.push(async () => {
      await eventSource.stop();
      await pipe.stop();
    });
    pipe.start();
    eventSource.start();
    return { queueUrl: queues.queueUrl, deadLetterQueueUrl: queues.deadLetterQueueUrl, streamArn, applied: () => eventSource.stats().messagesApplied, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
