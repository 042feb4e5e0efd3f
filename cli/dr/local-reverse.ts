import { join } from 'node:path';
import { DescribeTableCommand, DynamoDBClient, UpdateTableCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { SQSEvent } from 'aws-lambda';
import { ENV } from '../../handlers/core/env';
import { compileFilterPredicate } from '../../handlers/core/filter';
import { readSessionFile } from '../../local/control';
import { EventSourceEmulator, startApplyWorker, type ApplyWorker } from '../../local/event-source-emulator';
import { FaultInjector } from '../../local/faults';
import { PipeEmulator, type EnrichFn } from '../../local/pipe-emulator';
import { LOCAL_TARGET } from '../../local/session';
import { createReplicationQueues } from '../../local/sqs-local';
import { targetFilterSchema } from '../../schemas/replication-config';
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
  const stoppers: (() => Promise<void>)[] = [async () => [dynamodb, streams, sqs].forEach((c) => c.destroy())];
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

    const filter = targetFilterSchema.parse({});
    const queues = await createReplicationQueues(sqs, { name: 'ddbrepl-back', maxReceiveCount: 3, visibilityTimeoutSeconds: 5 });
    // The reverse direction's configuration, as the construct would set it for a target "origin".
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      AWS_REGION: session.region,
      AWS_DEFAULT_REGION: session.region,
      AWS_ACCESS_KEY_ID: session.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: session.credentials.secretAccessKey,
      AWS_ENDPOINT_URL_DYNAMODB: session.endpoints.dynamodb,
      AWS_ENDPOINT_URL_SQS: session.endpoints.sqs,
      AWS_ENDPOINT_URL_STS: session.endpoints.sts,
      [ENV.targetName]: 'origin',
      [ENV.sourceTableName]: session.targetTableName,
      [ENV.sourceRegion]: session.region,
      [ENV.keySchema]: JSON.stringify(session.keySchema),
      [ENV.targetTableName]: session.sourceTableName,
      [ENV.targetRegion]: session.region,
      // The local STS knows one role; the trust check it stands for is the same either way.
      [ENV.targetRoleArn]: LOCAL_TARGET.roleArn,
      [ENV.targetExternalId]: LOCAL_TARGET.externalId,
      [ENV.targetFilter]: JSON.stringify(filter),
      [ENV.logLevel]: 'SILENT',
      [ENV.metricsSink]: 'off',
    };
    for (const name of [ENV.controlTableName, ENV.targetRedaction, ENV.attachedTargets, 'AWS_SESSION_TOKEN', 'AWS_PROFILE']) delete env[name];
    const workers: ApplyWorker[] = [];
    stoppers.push(async () => {
      for (const w of workers) await w.stop();
    });
    const enrichWorker = await startApplyWorker({ handlerModule: join(HANDLERS, 'enrich.ts'), env });
    workers.push(enrichWorker);
    const applyWorker = await startApplyWorker({ handlerModule: join(HANDLERS, 'apply.ts'), env });
    workers.push(applyWorker);
    // The worker runs any handler; the enrichment takes the Pipes array and returns envelopes.
    const enrich: EnrichFn = async (records) => (await enrichWorker.apply(records as unknown as SQSEvent, enrichContext())) as unknown as ChangeEnvelopeV1[];

    const faults = new FaultInjector({}, 1);
    const pipe = new PipeEmulator({ streams, sqs, streamArn, queueUrl: queues.queueUrl, predicate: compileFilterPredicate(filter, session.keySchema), enrich, faults, ...(opts.onLog === undefined ? {} : { onLog: opts.onLog }) });
    const eventSource = new EventSourceEmulator({
      sqs, queueUrl: queues.queueUrl, queueArn: queues.queueArn, region: session.region, apply: applyWorker.apply, faults,
      visibilityTimeoutSeconds: 5, functionTimeoutSeconds: 10, functionName: 'ddbrepl-back-origin-apply',
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

function enrichContext(): Parameters<ApplyWorker['apply']>[1] {
  return { functionName: 'ddbrepl-back-enrich', getRemainingTimeInMillis: () => 60_000 } as Parameters<ApplyWorker['apply']>[1];
}
