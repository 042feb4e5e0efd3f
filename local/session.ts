import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CreateTableCommand,
  DynamoDBClient,
  ScanCommand,
  type AttributeDefinition,
  type AttributeValue,
  type KeySchemaElement,
} from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBRecord, SQSRecord } from 'aws-lambda';
import { canonicalKey, toWireAttributeMap } from '../handlers/core/attribute-value';
import { ENV } from '../handlers/core/env';
import { compileFilterPredicate } from '../handlers/core/filter';
import { keyAttributeNames, type KeySchema } from '../handlers/core/key-schema';
import type { AttributeMapWire } from '../schemas/attribute-value';
import { targetFilterSchema, type TargetFilter } from '../schemas/replication-config';
import { itemsEqual } from './compare';
import { startDynamoDbLocal, type DynamoDbLocal } from './dynamodb-local';
import { EmulatorError } from './errors';
import { EventSourceEmulator } from './event-source-emulator';
import { startFaultProxy, type FaultProxy, type FaultProxyStats } from './fault-proxy';
import { FaultInjector, type FaultRates } from './faults';
import { PipeEmulator } from './pipe-emulator';
import { createReplicationQueues, startSqsLocal, type SqsLocal } from './sqs-local';
import { startStsLocal, type StsLocal } from './sts-local';

export { parseFaults, type FaultRates } from './faults';
export { InvalidFaultSpecError } from './errors';

/**
 * A local replication session (DESIGN §4): DynamoDB Local, fauxqs, a local STS and a fault proxy,
 * tables "source" (stream NEW_AND_OLD_IMAGES) and "target", and the real `enrich` and `apply`
 * handlers driven by the pipe and event-source emulators.
 *
 * The handlers are configured the way Lambda configures them — environment variables read at
 * module load — so this sets process.env (endpoints, credentials, handler config) before loading
 * them, and restores it on stop. One session at a time per process.
 */
export interface LocalSessionOptions {
  keySchema: KeySchema;
  faults?: FaultRates;
  /** Seed of the fault PRNG, so a run repeats. @default 1 */
  seed?: number;
  /** @default replicate everything */
  filter?: TargetFilter;
  resyncThresholdBytes?: number;
  /** @default 3 (keeps poison tests fast) */
  maxReceiveCount?: number;
  /** @default 2 */
  visibilityTimeoutSeconds?: number;
  /** Stream polling interval. @default 50 */
  pollIntervalMs?: number;
  /** The apply's function timeout (Context.getRemainingTimeInMillis). @default 10 */
  applyTimeoutSeconds?: number;
  /** Concurrent apply invocations. @default 3 */
  maximumConcurrency?: number;
  /** LOG_LEVEL of the handlers' own structured logs (stdout). @default 'SILENT' */
  handlerLogLevel?: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR' | 'SILENT';
  onLog?: (line: string) => void;
}

export interface LocalStats {
  recordsRead: number;
  envelopesSent: number;
  messagesApplied: number;
  applyInvocations: number;
  applyFailures: number;
  /** Messages in the queue not being handled right now (visible, delayed, or waiting to reappear after a failure). */
  queueDepth: number;
  inFlight: number;
  deadLettered: number;
  /** Per applied change: apply time − the driver's write time (noteWrite). */
  lagMs: number[];
  /** Successful AssumeRole calls on the local STS (the apply caches credentials: stays 1). */
  assumeRoleCalls: number;
  /** Faults injected so far. */
  faults: FaultProxyStats & { enrichFailures: number; poisonSent: number; duplicateDeliveries: number; applyErrors: number };
}

export interface TableDiff {
  missing: number;
  extra: number;
  different: number;
  examples: { keys: AttributeMapWire; kind: 'missing' | 'extra' | 'different' }[];
}

export interface LocalSession {
  readonly endpoints: { dynamodb: string; sqs: string; sts: string };
  readonly sourceTableName: string;
  readonly targetTableName: string;
  readonly queueUrl: string;
  readonly deadLetterQueueUrl: string;
  /** Plain client to DynamoDB Local (no faults), for the driver's writes. */
  readonly sourceClient: DynamoDBClient;
  readonly targetClient: DynamoDBClient;
  /** The fault proxy the apply handler's DynamoDB clients go through. */
  readonly applyDynamoDbEndpoint: string;
  /** Child processes: DynamoDB Local's process group (its supervisor's pid) and the fauxqs process. */
  readonly processIds: { dynamodbLocalGroup: number; sqs: number };
  /** Replaces the fault rates from now on (the seeded random streams continue). */
  setFaults(faults: FaultRates): void;
  startReplication(): Promise<void>;
  pauseApply(): Promise<void>;
  resumeApply(): Promise<void>;
  stats(): LocalStats;
  noteWrite(keys: AttributeMapWire, atMs: number): void;
  waitForDrain(opts?: { timeoutMs?: number; onProgress?: (s: LocalStats) => void }): Promise<void>;
  diffTables(opts?: { limit?: number }): Promise<TableDiff>;
  stop(): Promise<void>;
}

export const LOCAL_REGION = 'us-east-1';
export const LOCAL_TARGET = {
  name: 'local',
  roleArn: 'arn:aws:iam::222222222222:role/ddbrepl-local-target',
  externalId: 'ddbrepl-local-external-id',
} as const;
const SOURCE_TABLE = 'source';
const TARGET_TABLE = 'target';
const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' } as const;
const SAMPLE_EVERY_MS = 250;

let activeSession = false;

function tableDefinition(name: string, keySchema: KeySchema): { AttributeDefinitions: AttributeDefinition[]; KeySchema: KeySchemaElement[]; TableName: string } {
  const keys = [{ ...keySchema.partitionKey, role: 'HASH' as const }, ...(keySchema.sortKey ? [{ ...keySchema.sortKey, role: 'RANGE' as const }] : [])];
  return {
    TableName: name,
    AttributeDefinitions: keys.map((k) => ({ AttributeName: k.name, AttributeType: k.type })),
    KeySchema: keys.map((k) => ({ AttributeName: k.name, KeyType: k.role })),
  };
}

async function scanAll(client: DynamoDBClient, tableName: string): Promise<AttributeMapWire[]> {
  const items: AttributeMapWire[] = [];
  let startKey: Record<string, AttributeValue> | undefined;
  do {
    const out = await client.send(new ScanCommand({ TableName: tableName, ConsistentRead: true, ExclusiveStartKey: startKey }));
    for (const item of out.Items ?? []) items.push(toWireAttributeMap(item));
    startKey = out.LastEvaluatedKey;
  } while (startKey !== undefined);
  return items;
}

/** Sets process.env entries and returns the function that puts the previous values back. */
function setEnv(values: Record<string, string | undefined>): () => void {
  const previous: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(values)) {
    previous[name] = process.env[name];
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  return () => setEnv(previous);
}

/** Drops cached handler modules (outside jest, whose registry is per test file) so they read the new env. */
function forgetHandlerModules(): void {
  const handlersDir = join(__dirname, '..', 'handlers');
  for (const id of Object.keys(require.cache)) if (id.startsWith(handlersDir)) delete require.cache[id];
}

export async function startLocalSession(opts: LocalSessionOptions): Promise<LocalSession> {
  if (activeSession) throw new EmulatorError('a local session is already running in this process; stop it first (the handlers read their configuration once, at load)');
  activeSession = true;
  const log = opts.onLog ?? (() => undefined);
  const faults = new FaultInjector(opts.faults ?? {}, opts.seed ?? 1);
  const visibilityTimeoutSeconds = opts.visibilityTimeoutSeconds ?? 2;
  const stoppers: (() => Promise<void>)[] = [];
  const stopAll = async (): Promise<void> => {
    const errors: unknown[] = [];
    for (const stopOne of stoppers.splice(0).reverse()) {
      try {
        await stopOne();
      } catch (error) {
        errors.push(error);
      }
    }
    activeSession = false;
    if (errors.length > 0) throw new EmulatorError(`stopping the local session failed: ${errors.map(String).join('; ')}`, { cause: errors[0] });
  };

  try {
    const [ddb, sqsLocal] = await Promise.all([
      startDynamoDbLocal({ onLog: log }).then((d: DynamoDbLocal) => (stoppers.push(() => d.stop()), d)),
      startSqsLocal({ onLog: log }).then((s: SqsLocal) => (stoppers.push(() => s.stop()), s)),
    ]);
    const sts: StsLocal = await startStsLocal({ roleArn: LOCAL_TARGET.roleArn, externalId: LOCAL_TARGET.externalId, onLog: log });
    stoppers.push(() => sts.stop());
    const proxy: FaultProxy = await startFaultProxy({ upstream: ddb.endpoint, faults, onLog: log });
    stoppers.push(() => proxy.stop());

    const clientConfig = { region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS };
    const dynamodb = new DynamoDBClient({ ...clientConfig, endpoint: ddb.endpoint });
    const streams = new DynamoDBStreamsClient({ ...clientConfig, endpoint: ddb.endpoint });
    const sqs = new SQSClient({ ...clientConfig, endpoint: sqsLocal.endpoint });
    stoppers.push(async () => [dynamodb, streams, sqs].forEach((c) => c.destroy()));

    const source = await dynamodb.send(new CreateTableCommand({
      ...tableDefinition(SOURCE_TABLE, opts.keySchema),
      BillingMode: 'PAY_PER_REQUEST',
      StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
    }));
    const streamArn = source.TableDescription?.LatestStreamArn;
    if (streamArn === undefined) throw new EmulatorError('DynamoDB Local created the source table without a stream');
    await dynamodb.send(new CreateTableCommand({ ...tableDefinition(TARGET_TABLE, opts.keySchema), BillingMode: 'PAY_PER_REQUEST' }));
    const queues = await createReplicationQueues(sqs, { name: `ddbrepl-${LOCAL_TARGET.name}`, maxReceiveCount: opts.maxReceiveCount ?? 3, visibilityTimeoutSeconds });

    // Handler configuration exactly as the CDK construct sets it, plus endpoints for the emulators.
    const restoreEnv = setEnv({
      AWS_REGION: LOCAL_REGION,
      AWS_DEFAULT_REGION: LOCAL_REGION,
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
      AWS_SESSION_TOKEN: undefined,
      AWS_PROFILE: undefined,
      AWS_ENDPOINT_URL_DYNAMODB: proxy.endpoint,
      AWS_ENDPOINT_URL_SQS: sqsLocal.endpoint,
      AWS_ENDPOINT_URL_STS: sts.endpoint,
      [ENV.targetName]: LOCAL_TARGET.name,
      [ENV.sourceTableName]: SOURCE_TABLE,
      [ENV.sourceRegion]: LOCAL_REGION,
      [ENV.keySchema]: JSON.stringify(opts.keySchema),
      [ENV.targetTableName]: TARGET_TABLE,
      [ENV.targetRegion]: LOCAL_REGION,
      [ENV.targetRoleArn]: LOCAL_TARGET.roleArn,
      [ENV.targetExternalId]: LOCAL_TARGET.externalId,
      [ENV.resyncThresholdBytes]: opts.resyncThresholdBytes === undefined ? undefined : String(opts.resyncThresholdBytes),
      [ENV.logLevel]: opts.handlerLogLevel ?? 'SILENT',
      [ENV.metricsSink]: 'off',
    });
    stoppers.push(async () => restoreEnv());
    forgetHandlerModules();
    const enrichModule = await import('../handlers/enrich');
    const applyModule = await import('../handlers/apply');

    // Lag: the driver notes its write times per key; the pipe pairs each stream record with the
    // oldest unpaired write of its key; the apply's success closes the pair (DESIGN §6: the stream's
    // ApproximateCreationDateTime is truncated to the minute, so it cannot be used).
    const writesByKey = new Map<string, number[]>();
    const writeTimeByEvent = new Map<string, number>();
    const lagMs: number[] = [];
    const onDelivered = (record: DynamoDBRecord, kept: boolean): void => {
      const keys = record.dynamodb?.Keys as AttributeMapWire | undefined;
      if (keys === undefined || record.eventID === undefined) return;
      const key = canonicalKey(keys);
      const times = writesByKey.get(key);
      const at = times?.shift();
      if (times !== undefined && times.length === 0) writesByKey.delete(key);
      if (at !== undefined && kept) writeTimeByEvent.set(record.eventID, at); // filtered out: never applied
    };
    const onApplied = (record: SQSRecord): void => {
      const eventId = record.attributes.MessageDeduplicationId;
      if (eventId === undefined) return;
      const at = writeTimeByEvent.get(eventId);
      if (at === undefined) return;
      writeTimeByEvent.delete(eventId);
      lagMs.push(Date.now() - at);
    };

    const pipe = new PipeEmulator({
      streams, sqs, streamArn, queueUrl: queues.queueUrl,
      predicate: compileFilterPredicate(opts.filter ?? targetFilterSchema.parse({}), opts.keySchema),
      enrich: (records) => enrichModule.handler(records),
      faults,
      pollIntervalMs: opts.pollIntervalMs ?? 50,
      onDelivered,
      onLog: log,
    });
    const eventSource = new EventSourceEmulator({
      sqs, queueUrl: queues.queueUrl, queueArn: queues.queueArn, region: LOCAL_REGION,
      apply: (event, context) => applyModule.handler(event, context),
      faults,
      visibilityTimeoutSeconds,
      functionTimeoutSeconds: opts.applyTimeoutSeconds ?? 10,
      maximumConcurrency: opts.maximumConcurrency ?? 3,
      onApplied,
      onLog: log,
    });
    let replicationStarted = false;
    stoppers.push(async () => {
      await eventSource.stop();
      await pipe.stop();
    });

    // stats() is synchronous: queue depths are sampled in the background.
    let queueCounts = { waiting: 0, deadLettered: 0 };
    const queueAttributes = async (queueUrl: string): Promise<{ visible: number; notVisible: number; delayed: number }> => {
      const out = await sqs.send(new GetQueueAttributesCommand({
        QueueUrl: queueUrl,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'],
      }));
      const n = (name: string) => Number(out.Attributes?.[name as keyof typeof out.Attributes] ?? '0');
      return { visible: n('ApproximateNumberOfMessages'), notVisible: n('ApproximateNumberOfMessagesNotVisible'), delayed: n('ApproximateNumberOfMessagesDelayed') };
    };
    const sample = async (): Promise<{ total: number }> => {
      const [main, dlq] = await Promise.all([queueAttributes(queues.queueUrl), queueAttributes(queues.deadLetterQueueUrl)]);
      const total = main.visible + main.notVisible + main.delayed;
      queueCounts = { waiting: Math.max(0, total - eventSource.stats().inFlight), deadLettered: dlq.visible + dlq.notVisible + dlq.delayed };
      return { total };
    };
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        await sample().catch((error: unknown) => log(`[session] queue sampling failed: ${String(error)}`));
        await sleep(SAMPLE_EVERY_MS);
      }
    })();
    stoppers.push(async () => {
      sampling = false;
      await sampler;
    });

    const stats = (): LocalStats => {
      const p = pipe.stats();
      const e = eventSource.stats();
      return {
        recordsRead: p.recordsRead,
        envelopesSent: p.envelopesSent,
        messagesApplied: e.messagesApplied,
        applyInvocations: e.applyInvocations,
        applyFailures: e.applyFailures,
        queueDepth: queueCounts.waiting,
        inFlight: e.inFlight,
        deadLettered: queueCounts.deadLettered,
        lagMs: [...lagMs],
        assumeRoleCalls: sts.stats().assumeRoleCalls,
        faults: { ...proxy.stats(), enrichFailures: p.enrichFailures, poisonSent: p.poisonSent, duplicateDeliveries: e.duplicateDeliveries, applyErrors: e.applyErrors },
      };
    };

    let stopping: Promise<void> | undefined;
    const session: LocalSession = {
      endpoints: { dynamodb: ddb.endpoint, sqs: sqsLocal.endpoint, sts: sts.endpoint },
      sourceTableName: SOURCE_TABLE,
      targetTableName: TARGET_TABLE,
      queueUrl: queues.queueUrl,
      deadLetterQueueUrl: queues.deadLetterQueueUrl,
      sourceClient: dynamodb,
      targetClient: dynamodb,
      applyDynamoDbEndpoint: proxy.endpoint,
      processIds: { dynamodbLocalGroup: ddb.pid, sqs: sqsLocal.pid },
      setFaults: (rates) => faults.setRates(rates),
      startReplication: async () => {
        replicationStarted = true;
        pipe.start();
        eventSource.start();
      },
      pauseApply: () => eventSource.pause(),
      resumeApply: async () => eventSource.resume(),
      stats,
      noteWrite: (keys, atMs) => {
        const key = canonicalKey(keys);
        const times = writesByKey.get(key);
        if (times === undefined) writesByKey.set(key, [atMs]);
        else times.push(atMs);
      },
      waitForDrain: async ({ timeoutMs = 120_000, onProgress } = {}) => {
        if (!replicationStarted) throw new EmulatorError('waitForDrain: replication has not been started (call startReplication first)');
        if (eventSource.isPaused) throw new EmulatorError('waitForDrain: the apply is paused and the queue would never drain (call resumeApply first)');
        const since = Date.now();
        const deadline = since + timeoutMs;
        for (;;) {
          if (pipe.caughtUpSince(since) && eventSource.stats().inFlight === 0) {
            const { total } = await sample();
            // Every record written before `since` is in the queue, and the queue is empty: drained.
            if (total === 0 && eventSource.stats().inFlight === 0) {
              onProgress?.(stats());
              return;
            }
          }
          if (Date.now() > deadline) {
            const s = stats();
            const pipeFailure = pipe.currentFailure();
            throw new EmulatorError(`replication did not drain within ${timeoutMs} ms (read ${s.recordsRead}, sent ${s.envelopesSent}, applied ${s.messagesApplied}, queue ${s.queueDepth}, in flight ${s.inFlight}, DLQ ${s.deadLettered})${pipeFailure === undefined ? '' : `; the pipe is retrying: ${pipeFailure}`}`);
          }
          onProgress?.(stats());
          await sleep(100);
        }
      },
      diffTables: async ({ limit = 10 } = {}) => {
        const [sourceItems, targetItems] = await Promise.all([scanAll(dynamodb, SOURCE_TABLE), scanAll(dynamodb, TARGET_TABLE)]);
        const keyNames = keyAttributeNames(opts.keySchema);
        const keysOf = (item: AttributeMapWire): AttributeMapWire => Object.fromEntries(keyNames.map((n) => [n, item[n]])) as AttributeMapWire;
        const targetByKey = new Map(targetItems.map((item) => [canonicalKey(keysOf(item)), item]));
        const diff: TableDiff = { missing: 0, extra: 0, different: 0, examples: [] };
        const note = (kind: 'missing' | 'extra' | 'different', item: AttributeMapWire): void => {
          diff[kind] += 1;
          if (diff.examples.length < limit) diff.examples.push({ keys: keysOf(item), kind });
        };
        for (const item of sourceItems) {
          const key = canonicalKey(keysOf(item));
          const other = targetByKey.get(key);
          targetByKey.delete(key);
          if (other === undefined) note('missing', item);
          else if (!itemsEqual(item, other)) note('different', item);
        }
        for (const item of targetByKey.values()) note('extra', item);
        return diff;
      },
      stop: () => {
        stopping ??= stopAll();
        return stopping;
      },
    };
    log(`[session] ready: dynamodb ${ddb.endpoint}, sqs ${sqsLocal.endpoint}, sts ${sts.endpoint}, apply via ${proxy.endpoint}`);
    return session;
  } catch (error) {
    await stopAll().catch((stopError: unknown) => log(`[session] cleanup after a failed start failed: ${String(stopError)}`));
    throw error;
  }
}
