import { join } from 'node:path';
import type { z } from 'zod';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CreateTableCommand,
  DynamoDBClient,
  ScanCommand,
  UpdateTimeToLiveCommand,
  type AttributeDefinition,
  type AttributeValue,
  type KeySchemaElement,
} from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBRecord, SQSRecord } from 'aws-lambda';
import { canonicalKey, toWireAttributeMap } from '../handlers/core/attribute-value';
import { ENV } from '../handlers/core/env';
import { CONTROL_TABLE_KEY, controlTableName } from '../handlers/core/freeze';
import { STATE_TABLE_KEY, stateTableName } from '../handlers/core/replication-state';
import { SQS_LIMITS } from '../handlers/core/aws-limits';
import { isTtlDelete } from '../handlers/core/filter';
import { keyAttributeNames, type KeySchema } from '../handlers/core/key-schema';
import { compileTargetPolicy } from '../handlers/core/target-policy';
import type { AttributeMapWire } from '../schemas/attribute-value';
import {
  targetConfigSchema, targetFilterSchema, targetPolicyProblems, targetRedactionSchema, type DeliveryMode, type TargetFilter, type TargetRedaction,
} from '../schemas/replication-config';
import { itemsEqual } from './compare';
import { startDynamoDbLocal, type DynamoDbLocal } from './dynamodb-local';
import { EmulatorError } from './errors';
import { deployedDefinition, functionEnvironment, LOCAL_DEPLOYMENT, type DeployedDefinition, type LocalDeploymentSpec } from './deployed-definition';
import { EventSourceEmulator, lambdaContext, startApplyWorker, startHandlerWorker, type ApplyFn } from './event-source-emulator';
import { startFaultProxy, type FaultProxy, type FaultProxyStats } from './fault-proxy';
import { FaultInjector, type FaultRates } from './faults';
import { PipeEmulator, type EnrichFn } from './pipe-emulator';
import { createDefinedQueues, startSqsLocal, type SqsLocal } from './sqs-local';
import { startStsLocal, type StsLocal } from './sts-local';
import { keepProtoAttributes } from '../handlers/core/proto-attributes';

/** The local control table is `ddbrepl-local-control`, as the stack names one per replication. */
export const LOCAL_CONTROL_REPLICATION = 'local' as const;

export { parseFaults, type FaultRates } from './faults';
export { InvalidFaultSpecError } from './errors';

/**
 * A local replication session (docs/architecture.md#local-mode): DynamoDB Local, fauxqs, a local STS and a fault proxy,
 * tables "source" (stream NEW_AND_OLD_IMAGES) and "target", and the real `enrich` and `apply`
 * handlers driven by the pipe and event-source emulators.
 *
 * The handlers are configured the way Lambda configures them — environment variables read at
 * module load — so this sets process.env (endpoints, credentials, handler config) before loading
 * them, and restores it on stop. One session at a time per process.
 */
/** One target of a multi-target session: its own table, FIFO queue, DLQ and apply function. */
export interface LocalTargetOptions {
  /** Target name (as in the config: lower-case letters, digits, "-"). */
  name: string;
  /** @default replicate everything */
  filter?: z.input<typeof targetFilterSchema>;
  /** @default none */
  redaction?: z.input<typeof targetRedactionSchema>;
}

export interface LocalSessionOptions {
  keySchema: KeySchema;
  /**
   * Several targets, fanned out as in AWS (docs/fan-out.md) and as the synthesized template has it:
   * one pipe emulator per pipe (at most two; further targets' queues are fed by an owner's
   * enrichment), one event source and one apply function per target, each function in a worker
   * thread with its own environment, tables `target-<name>`.
   * Mutually exclusive with `filter`. @default one target "local" (table "target"), applied in-process
   */
  targets?: LocalTargetOptions[];
  /** Enable TTL on the source table with this attribute, so DynamoDB Local emits TTL deletes (docs/architecture.md#emulator-facts). @default TTL off */
  ttlAttribute?: string;
  faults?: FaultRates;
  /** Seed of the fault PRNG, so a run repeats. @default 1 */
  seed?: number;
  /** @default replicate everything */
  filter?: TargetFilter;
  resyncThresholdBytes?: number;
  /** The queues' maxReceiveCount (options.maxReceiveCount, into the template). @default 3 (keeps poison tests fast) */
  maxReceiveCount?: number;
  /**
   * Local override, not in the template: the main queues' VisibilityTimeout (the template's is six
   * apply timeouts, 60 s here), so a crashed batch or a poison message costs seconds. Logged at start
   * and listed in `localOverrides`. `'template'` keeps the template's. @default 2
   */
  visibilityTimeoutSeconds?: number | 'template';
  /** Stream polling interval. @default 50 */
  pollIntervalMs?: number;
  /** The apply's function timeout (options.applyTimeoutSeconds, into the template). @default 10 */
  applyTimeoutSeconds?: number;
  /** Concurrent apply invocations (options.maximumConcurrency, into the template). @default 3 */
  maximumConcurrency?: number;
  /** Stream records per enrichment call (options.pipeBatchSize, into the template). @default 10 */
  pipeBatchSize?: number;
  /** options.delivery of every target (issue 12 §5). @default 'pipe-target' */
  delivery?: DeliveryMode;
  /** options.startingPosition of every target: where startReplication() starts reading. @default 'TRIM_HORIZON' */
  startingPosition?: 'TRIM_HORIZON' | 'LATEST';
  /** Changes the synthesized stack before local mode reads it (tests: a construct setting changed by an escape hatch). @default none */
  amendStack?: LocalDeploymentSpec['amendStack'];
  /** options.pipeParallelizationFactor of every target (into the template). @default the config default */
  pipeParallelizationFactor?: number;
  /** Added to every pipe batch attempt, modelling the enrichment invoke and SQS send round trips on AWS (the bench's PF rows). @default 0 */
  pipeBatchLatencyMs?: number;
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
  /** The most stream records one enrichment call received (at most the template's pipe batch size). */
  largestEnrichBatch: number;
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

export interface LocalSessionTarget {
  readonly name: string;
  readonly tableName: string;
  readonly queueUrl: string;
  readonly deadLetterQueueUrl: string;
}

export interface LocalSession {
  readonly endpoints: { dynamodb: string; sqs: string; sts: string };
  readonly sourceTableName: string;
  /** The first target's (the only one's, without `targets`). */
  readonly targetTableName: string;
  readonly queueUrl: string;
  readonly deadLetterQueueUrl: string;
  /** Every target, the pipe owner first. */
  readonly targets: readonly LocalSessionTarget[];
  /** What the synthesized template defines, which the emulators run (local/deployed-definition.ts). */
  readonly definition: DeployedDefinition;
  /** Settings local mode uses in place of the template's, one line each (also logged at start). */
  readonly localOverrides: readonly string[];
  /** Plain client to DynamoDB Local (no faults), for the driver's writes. */
  readonly sourceClient: DynamoDBClient;
  readonly targetClient: DynamoDBClient;
  /** The fault proxy the apply handler's DynamoDB clients go through. */
  readonly applyDynamoDbEndpoint: string;
  /** Child processes: DynamoDB Local's process group (its supervisor's pid) and the fauxqs process. */
  readonly processIds: { dynamodbLocalGroup: number; sqs: number };
  /** Replaces the fault rates from now on (the seeded random streams continue). */
  setFaults(faults: FaultRates): void;
  /**
   * Starts the pipe and event-source emulators. `from: 'trim-horizon'` reads the stream from its
   * start, as a pipe deployed with TRIM_HORIZON does; `from: 'now'` skips what the stream already
   * holds, as a pipe deployed with LATEST does — then only an initial load (bootstrap) brings the
   * existing items over. @default the template's StartingPosition
   */
  startReplication(opts?: { from?: 'trim-horizon' | 'now' }): Promise<void>;
  pauseApply(): Promise<void>;
  resumeApply(): Promise<void>;
  stats(): LocalStats;
  noteWrite(keys: AttributeMapWire, atMs: number): void;
  waitForDrain(opts?: { timeoutMs?: number; onProgress?: (s: LocalStats) => void }): Promise<void>;
  /**
   * Compares a target table with the source as that target should see it: the source items its
   * filter keeps (plus items whose deletes it does not replicate, as last seen), with excluded
   * attributes removed and redacted ones replaced. `target` defaults to the first target.
   */
  diffTables(opts?: { limit?: number; target?: string }): Promise<TableDiff>;
  stop(): Promise<void>;
}

export const LOCAL_REGION = LOCAL_DEPLOYMENT.region;
/** The replication name local mode gives the handlers (the metrics' Replication dimension): the template's. */
export const LOCAL_REPLICATION_NAME = LOCAL_DEPLOYMENT.replicationName;
export const LOCAL_TARGET = {
  name: 'local',
  roleArn: LOCAL_DEPLOYMENT.roleArn,
  externalId: LOCAL_DEPLOYMENT.externalId,
} as const;
const SOURCE_TABLE = LOCAL_DEPLOYMENT.sourceTableName;
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

interface TargetSpec {
  name: string;
  tableName: string;
  filter: TargetFilter;
  redaction?: TargetRedaction;
}

/** The session's targets, validated like the config: one implicit "local" target, or `opts.targets`. */
function resolveTargets(opts: LocalSessionOptions): TargetSpec[] {
  if (opts.targets === undefined) {
    return [{ name: LOCAL_TARGET.name, tableName: TARGET_TABLE, filter: opts.filter ?? targetFilterSchema.parse({}) }];
  }
  if (opts.filter !== undefined) throw new EmulatorError('set either filter (one target) or targets (each with its own filter), not both');
  if (opts.targets.length === 0) throw new EmulatorError('targets: at least one target');
  const problems: string[] = [];
  const specs = opts.targets.map((t, i): TargetSpec => {
    const label = `targets.${i}`;
    const issues = (path: string, result: { success: boolean; error?: { issues: { path: PropertyKey[]; message: string }[] } }): void => {
      for (const issue of result.error?.issues ?? []) problems.push(`${label}.${[path, ...issue.path.map(String)].join('.')}: ${issue.message}`);
    };
    const name = targetConfigSchema.shape.name.safeParse(t.name);
    const filter = targetFilterSchema.safeParse(t.filter ?? {});
    const redaction = t.redaction === undefined ? undefined : targetRedactionSchema.safeParse(t.redaction);
    issues('name', name);
    issues('filter', filter);
    if (redaction !== undefined) issues('redaction', redaction);
    const spec: TargetSpec = { name: t.name, tableName: `${TARGET_TABLE}-${t.name}`, filter: filter.data ?? targetFilterSchema.parse({}) };
    if (redaction?.data !== undefined) spec.redaction = redaction.data;
    if (filter.success && (redaction === undefined || redaction.success)) {
      for (const [path, message] of targetPolicyProblems(opts.keySchema, spec.filter, spec.redaction)) problems.push(`${label}.${path.join('.')}: ${message}`);
    }
    return spec;
  });
  const names = specs.map((s) => s.name);
  names.forEach((n, i) => {
    if (names.indexOf(n) !== i) problems.push(`targets.${i}.name: duplicate target name "${n}"`);
  });
  if (problems.length > 0) throw new EmulatorError(`invalid local targets:\n  ${problems.join('\n  ')}`);
  return specs;
}

/**
 * What a target table should hold: the source items its filter keeps — plus, for deletes it does
 * not replicate (TTL deletes it skips, or every REMOVE), the deleted item as last seen — with its
 * redaction applied. Targets that drop INSERT or MODIFY keep stale versions this cannot know.
 */
function expectedView(
  spec: TargetSpec,
  keySchema: KeySchema,
  sourceItems: AttributeMapWire[],
  tombstones: ReadonlyMap<string, { image: AttributeMapWire; ttl: boolean }>,
  keysOf: (item: AttributeMapWire) => AttributeMapWire,
): AttributeMapWire[] {
  const names = new Set<string>(spec.filter.eventNames);
  if (!names.has('INSERT') || !names.has('MODIFY') || (!names.has('REMOVE') && (spec.filter.attributeEquals ?? []).length > 0)) {
    throw new EmulatorError(`diffTables: target "${spec.name}" drops ${!names.has('INSERT') ? 'INSERT' : !names.has('MODIFY') ? 'MODIFY' : 'REMOVE with attribute conditions'}, so it keeps stale items whose expected state is not known`);
  }
  const { view } = compileTargetPolicy(spec, keySchema);
  const present = new Set(sourceItems.map((item) => canonicalKey(keysOf(item))));
  const kept = [...tombstones.entries()]
    .filter(([key, tomb]) => !present.has(key) && (!names.has('REMOVE') || (tomb.ttl && !spec.filter.replicateTtlDeletes)))
    .map(([, tomb]) => tomb.image);
  return [...sourceItems, ...kept].flatMap((item) => { const seen = view(item); return seen === undefined ? [] : [seen]; });
}

export async function startLocalSession(opts: LocalSessionOptions): Promise<LocalSession> {
  if (activeSession) throw new EmulatorError('a local session is already running in this process; stop it first (the handlers read their configuration once, at load)');
  activeSession = true;
  const log = opts.onLog ?? (() => undefined);
  const faults = new FaultInjector(opts.faults ?? {}, opts.seed ?? 1);
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
    const dynamodb = keepProtoAttributes(new DynamoDBClient({ ...clientConfig, endpoint: ddb.endpoint }));
    const streams = keepProtoAttributes(new DynamoDBStreamsClient({ ...clientConfig, endpoint: ddb.endpoint }));
    const sqs = new SQSClient({ ...clientConfig, endpoint: sqsLocal.endpoint });
    stoppers.push(() => { for (const c of [dynamodb, streams, sqs]) c.destroy(); return Promise.resolve(); });

    const source = await dynamodb.send(new CreateTableCommand({
      ...tableDefinition(SOURCE_TABLE, opts.keySchema),
      BillingMode: 'PAY_PER_REQUEST',
      StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
    }));
    const streamArn = source.TableDescription?.LatestStreamArn;
    if (streamArn === undefined) throw new EmulatorError('DynamoDB Local created the source table without a stream');
    const specs = resolveTargets(opts);
    const multi = opts.targets !== undefined;
    for (const spec of specs) {
      await dynamodb.send(new CreateTableCommand({ ...tableDefinition(spec.tableName, opts.keySchema), BillingMode: 'PAY_PER_REQUEST' }));
    }
    // The freeze mark's table, as the replication stack has one (handlers/core/freeze.ts; `cutover --local`).
    await dynamodb.send(new CreateTableCommand({ TableName: controlTableName(LOCAL_CONTROL_REPLICATION), AttributeDefinitions: [{ AttributeName: CONTROL_TABLE_KEY, AttributeType: 'S' }], KeySchema: [{ AttributeName: CONTROL_TABLE_KEY, KeyType: 'HASH' }], BillingMode: 'PAY_PER_REQUEST' }));
    // Each target's replication state table, as its target-access stack has one (handlers/core/replication-state.ts; `failover --local`).
    for (const spec of specs) {
      await dynamodb.send(new CreateTableCommand({ TableName: stateTableName(LOCAL_CONTROL_REPLICATION, spec.name), AttributeDefinitions: [{ AttributeName: STATE_TABLE_KEY, AttributeType: 'S' }], KeySchema: [{ AttributeName: STATE_TABLE_KEY, KeyType: 'HASH' }], BillingMode: 'PAY_PER_REQUEST' }));
    }
    if (opts.ttlAttribute !== undefined) {
      await dynamodb.send(new UpdateTimeToLiveCommand({ TableName: SOURCE_TABLE, TimeToLiveSpecification: { Enabled: true, AttributeName: opts.ttlAttribute } }));
    }
    // One definition: the stack `cdk deploy` creates, synthesized from the local config; the emulators run what it says.
    const definition = deployedDefinition({
      keySchema: opts.keySchema,
      targets: specs.map((spec) => ({
        name: spec.name,
        tableName: spec.tableName,
        filter: spec.filter,
        ...(spec.redaction === undefined ? {} : { redaction: spec.redaction }),
        options: {
          maxReceiveCount: opts.maxReceiveCount ?? 3,
          applyTimeoutSeconds: opts.applyTimeoutSeconds ?? 10,
          maximumConcurrency: opts.maximumConcurrency ?? 3,
          pipeBatchSize: opts.pipeBatchSize ?? 10,
          ...(opts.pipeParallelizationFactor === undefined ? {} : { pipeParallelizationFactor: opts.pipeParallelizationFactor }),
          ...(opts.resyncThresholdBytes === undefined ? {} : { resyncThresholdBytes: opts.resyncThresholdBytes }),
          ...(opts.delivery === undefined ? {} : { delivery: opts.delivery }),
          ...(opts.startingPosition === undefined ? {} : { startingPosition: opts.startingPosition }),
        },
      })),
      ...(opts.amendStack === undefined ? {} : { amendStack: opts.amendStack }),
    });
    const visibilityOverride = opts.visibilityTimeoutSeconds === 'template' ? undefined : opts.visibilityTimeoutSeconds ?? 2;
    const localOverrides = visibilityOverride === undefined ? [] : definition.targets.map((t) =>
      `queue ${t.queue.queueName}: VisibilityTimeout ${visibilityOverride} s instead of the template's ${t.queue.visibilityTimeoutSeconds} s (faster retries; the event source extends visibility while a batch is handled)`);
    for (const line of localOverrides) log(`[session] local override: ${line}`);
    for (const pipe of definition.pipes) {
      log(`[session] template pipe ${pipe.name}: batch ${pipe.batchSize}, ${pipe.startingPosition}, retries ${pipe.maximumRetryAttempts}${pipe.bisectOnFailure ? ', bisect' : ''}, ${pipe.filterPatterns?.length ?? 0} filter pattern(s)`);
    }

    const mainQueueIds = new Set(definition.targets.map((t) => t.queue.logicalId));
    const localQueue = await createDefinedQueues(sqs, definition.queues.values(), {
      visibilityTimeoutFor: (queue) => (mainQueueIds.has(queue.logicalId) ? visibilityOverride : undefined),
    });
    const queuesByTarget = definition.targets.map((t) => ({
      queueUrl: localQueue(t.queue.logicalId).queueUrl,
      queueArn: localQueue(t.queue.logicalId).queueArn,
      deadLetterQueueUrl: localQueue(t.deadLetterQueue.logicalId).queueUrl,
    }));
    const queues = queuesByTarget[0];
    const owner = specs[0];

    // Each function's environment is the template's, its queue references resolved to the local
    // queues; local mode adds only endpoints, credentials and log/metrics switches.
    const localEnv: Record<string, string | undefined> = {
      AWS_REGION: LOCAL_REGION,
      AWS_DEFAULT_REGION: LOCAL_REGION,
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
      AWS_SESSION_TOKEN: undefined,
      AWS_PROFILE: undefined,
      AWS_ENDPOINT_URL_DYNAMODB: proxy.endpoint,
      AWS_ENDPOINT_URL_SQS: sqsLocal.endpoint,
      AWS_ENDPOINT_URL_STS: sts.endpoint,
      [ENV.logLevel]: opts.handlerLogLevel ?? 'SILENT',
      [ENV.metricsSink]: 'off',
      // A shorter local visibility timeout caps apply's visibility backoff too (handlers/core/visibility-backoff.ts).
      ...(visibilityOverride === undefined ? {} : { [ENV.visibilityBackoffMaxSeconds]: String(visibilityOverride) }),
    };
    const functionEnv = (logicalId: string): Record<string, string> => functionEnvironment(definition, logicalId, localQueue);
    const workerEnv = (logicalId: string): NodeJS.ProcessEnv => {
      const env: NodeJS.ProcessEnv = { ...process.env, ...functionEnv(logicalId), ...localEnv };
      for (const [name, value] of Object.entries(env)) if (value === undefined) delete env[name];
      return env;
    };

    // One target (one pipe): both handlers in-process, with their template environments (which agree
    // on every shared variable). Several: each function in a worker thread with its own environment —
    // what a separate Lambda function is in AWS — because the handlers read their configuration at load.
    const applies: ApplyFn[] = [];
    const enrichers = new Map<string, EnrichFn>();
    if (!multi) {
      const [target] = definition.targets;
      const [pipeDef] = definition.pipes;
      const restoreEnv = setEnv({ ...functionEnv(pipeDef.enrichmentFunctionLogicalId), ...functionEnv(target.applyFunction.logicalId), ...localEnv });
      stoppers.push(() => { restoreEnv(); return Promise.resolve(); });
      forgetHandlerModules();
      // require, not import(): under tsx a dynamic import() is cached outside require.cache, so a second
      // session in one process (the bench's PF runs) would get the first session's handlers and clients.
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- see above: require so each session gets fresh handler modules
      const enrichModule = require('../handlers/enrich') as typeof import('../handlers/enrich');
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- see above
      const applyModule = require('../handlers/apply') as typeof import('../handlers/apply');
      enrichers.set(pipeDef.logicalId, (records) => enrichModule.handler(records));
      applies.push((event, context) => applyModule.handler(event, context));
    } else {
      for (const pipeDef of definition.pipes) {
        const worker = await startHandlerWorker<DynamoDBRecord[], unknown[]>({ handlerModule: join(__dirname, '..', 'handlers', 'enrich.ts'), env: workerEnv(pipeDef.enrichmentFunctionLogicalId) });
        stoppers.push(() => worker.stop());
        const fn = definition.functions.get(pipeDef.enrichmentFunctionLogicalId);
        enrichers.set(pipeDef.logicalId, (records) => worker.invoke(records, lambdaContext(`${pipeDef.name}-enrich`, LOCAL_REGION, (fn?.timeoutSeconds ?? 60) * 1000)));
      }
      for (const target of definition.targets) {
        const worker = await startApplyWorker({ handlerModule: join(__dirname, '..', 'handlers', 'apply.ts'), env: workerEnv(target.applyFunction.logicalId) });
        stoppers.push(() => worker.stop());
        applies.push(worker.apply);
      }
    }

    // Lag: the driver notes its write times per key; the pipe pairs each stream record with the
    // oldest unpaired write of its key; the first target's apply success closes the pair (docs/architecture.md#emulator-facts:
    // the stream's ApproximateCreationDateTime is truncated to the minute, so it cannot be used).
    const writesByKey = new Map<string, number[]>();
    const writeTimeByEvent = new Map<string, number>();
    const lagMs: number[] = [];
    // The last delete of each key the pipe saw (diffTables: a target that skips a delete keeps the item).
    const tombstones = new Map<string, { image: AttributeMapWire; ttl: boolean }>();
    const onDelivered = (record: DynamoDBRecord, kept: boolean): void => {
      const keys = record.dynamodb?.Keys as AttributeMapWire | undefined;
      if (keys === undefined || record.eventID === undefined) return;
      const key = canonicalKey(keys);
      if (record.eventName === 'REMOVE') tombstones.set(key, { image: (record.dynamodb?.OldImage ?? keys) as AttributeMapWire, ttl: isTtlDelete(record) });
      else tombstones.delete(key);
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

    // One pipe emulator per pipe of the template, filtering with its FilterCriteria. Lag pairing and
    // tombstones follow the pipe that feeds the first target (every pipe reads every record).
    const firstPipeId = definition.targets[0]?.pipeLogicalId;
    const pipes = definition.pipes.map((pipeDef) => {
      const targetQueue = definition.queues.get(pipeDef.targetQueueLogicalId);
      return new PipeEmulator({
        streams, sqs, streamArn,
        pipe: pipeDef,
        target: { queueUrl: localQueue(pipeDef.targetQueueLogicalId).queueUrl, fifo: targetQueue?.fifo ?? true, maximumMessageBytes: targetQueue?.maximumMessageBytes ?? SQS_LIMITS.maxMessageBytes },
        ...(pipeDef.deadLetterQueueLogicalId === undefined ? {} : { deadLetterQueueUrl: localQueue(pipeDef.deadLetterQueueLogicalId).queueUrl }),
        enrich: enrichers.get(pipeDef.logicalId) as EnrichFn,
        faults,
        pollIntervalMs: opts.pollIntervalMs ?? 50,
        partitionKeyName: opts.keySchema.partitionKey.name,
        ...(opts.pipeBatchLatencyMs === undefined ? {} : { batchLatencyMs: opts.pipeBatchLatencyMs }),
        ...(pipeDef.logicalId === firstPipeId ? { onDelivered } : {}),
        onLog: log,
      });
    });
    const pipe = pipes.find((_, i) => definition.pipes[i]?.logicalId === firstPipeId) as PipeEmulator;
    const eventSources = definition.targets.map((target, i) => new EventSourceEmulator({
      sqs, queueUrl: queuesByTarget[i].queueUrl, queueArn: queuesByTarget[i].queueArn, region: LOCAL_REGION,
      apply: applies[i],
      faults,
      batchSize: target.eventSourceMapping.batchSize,
      reportBatchItemFailures: target.eventSourceMapping.reportBatchItemFailures,
      fifo: target.queue.fifo,
      visibilityTimeoutSeconds: visibilityOverride ?? target.queue.visibilityTimeoutSeconds,
      functionTimeoutSeconds: target.applyFunction.timeoutSeconds,
      ...(target.eventSourceMapping.maximumConcurrency === undefined ? {} : { maximumConcurrency: target.eventSourceMapping.maximumConcurrency }),
      ...(multi ? { functionName: `ddbrepl-${target.name}-apply` } : {}),
      ...(i === 0 ? { onApplied } : {}),
      onLog: log,
    }));
    let replicationStarted = false;
    stoppers.push(async () => {
      await Promise.all(eventSources.map((e) => e.stop()));
      await Promise.all(pipes.map((p) => p.stop()));
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
    const inFlight = (): number => eventSources.reduce((sum, e) => sum + e.stats().inFlight, 0);
    const sample = async (): Promise<{ total: number }> => {
      const counts = await Promise.all(queuesByTarget.map(async (q) => {
        const [main, dlq] = await Promise.all([queueAttributes(q.queueUrl), queueAttributes(q.deadLetterQueueUrl)]);
        return { total: main.visible + main.notVisible + main.delayed, deadLettered: dlq.visible + dlq.notVisible + dlq.delayed };
      }));
      const total = counts.reduce((sum, c) => sum + c.total, 0);
      queueCounts = { waiting: Math.max(0, total - inFlight()), deadLettered: counts.reduce((sum, c) => sum + c.deadLettered, 0) };
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
      const allPipes = pipes.map((one) => one.stats());
      const pipeSum = (field: 'envelopesSent' | 'enrichFailures' | 'poisonSent') => allPipes.reduce((total, one) => total + one[field], 0);
      const e = eventSources.map((source) => source.stats());
      const sum = (field: 'messagesApplied' | 'applyInvocations' | 'applyFailures' | 'applyErrors' | 'duplicateDeliveries') => e.reduce((total, s) => total + s[field], 0);
      return {
        recordsRead: p.recordsRead,
        envelopesSent: pipeSum('envelopesSent'),
        messagesApplied: sum('messagesApplied'),
        applyInvocations: sum('applyInvocations'),
        applyFailures: sum('applyFailures'),
        queueDepth: queueCounts.waiting,
        inFlight: inFlight(),
        deadLettered: queueCounts.deadLettered,
        lagMs: [...lagMs],
        largestEnrichBatch: Math.max(0, ...allPipes.map((one) => one.largestBatch)),
        assumeRoleCalls: sts.stats().assumeRoleCalls,
        faults: { ...proxy.stats(), enrichFailures: pipeSum('enrichFailures'), poisonSent: pipeSum('poisonSent'), duplicateDeliveries: sum('duplicateDeliveries'), applyErrors: sum('applyErrors') },
      };
    };

    let stopping: Promise<void> | undefined;
    const session: LocalSession = {
      endpoints: { dynamodb: ddb.endpoint, sqs: sqsLocal.endpoint, sts: sts.endpoint },
      sourceTableName: SOURCE_TABLE,
      targetTableName: owner.tableName,
      queueUrl: queues.queueUrl,
      deadLetterQueueUrl: queues.deadLetterQueueUrl,
      targets: specs.map((spec, i) => ({ name: spec.name, tableName: spec.tableName, queueUrl: queuesByTarget[i].queueUrl, deadLetterQueueUrl: queuesByTarget[i].deadLetterQueueUrl })),
      definition,
      localOverrides,
      sourceClient: dynamodb,
      targetClient: dynamodb,
      applyDynamoDbEndpoint: proxy.endpoint,
      processIds: { dynamodbLocalGroup: ddb.pid, sqs: sqsLocal.pid },
      setFaults: (rates) => faults.setRates(rates),
      startReplication: async ({ from } = {}) => {
        for (const [i, one] of pipes.entries()) {
          const pipeDef = definition.pipes[i];
          // 'now': as a pipe deployed with LATEST — what the stream already holds is never delivered.
          if ((from ?? (pipeDef.startingPosition === 'LATEST' ? 'now' : 'trim-horizon')) === 'now') {
            log(`[session] pipe ${pipeDef.name} starts at the end of the stream (${await one.skipToEnd()} records skipped)`);
          }
        }
        replicationStarted = true;
        for (const one of pipes) one.start();
        for (const e of eventSources) e.start();
      },
      pauseApply: async () => {
        await Promise.all(eventSources.map((e) => e.pause()));
      },
      resumeApply: () => {
        for (const e of eventSources) e.resume();
        return Promise.resolve();
      },
      stats,
      noteWrite: (keys, atMs) => {
        const key = canonicalKey(keys);
        const times = writesByKey.get(key);
        if (times === undefined) writesByKey.set(key, [atMs]);
        else times.push(atMs);
      },
      waitForDrain: async ({ timeoutMs = 120_000, onProgress } = {}) => {
        if (!replicationStarted) throw new EmulatorError('waitForDrain: replication has not been started (call startReplication first)');
        if (eventSources.some((e) => e.isPaused)) throw new EmulatorError('waitForDrain: the apply is paused and the queue would never drain (call resumeApply first)');
        const since = Date.now();
        const deadline = since + timeoutMs;
        for (;;) {
          if (pipes.every((one) => one.caughtUpSince(since)) && inFlight() === 0) {
            const { total } = await sample();
            // Every record written before `since` is in the queues, and the queues are empty: drained.
            if (total === 0 && inFlight() === 0) {
              onProgress?.(stats());
              return;
            }
          }
          if (Date.now() > deadline) {
            const s = stats();
            const pipeFailure = pipes.map((one) => one.currentFailure()).find((f) => f !== undefined);
            throw new EmulatorError(`replication did not drain within ${timeoutMs} ms (read ${s.recordsRead}, sent ${s.envelopesSent}, applied ${s.messagesApplied}, queue ${s.queueDepth}, in flight ${s.inFlight}, DLQ ${s.deadLettered})${pipeFailure === undefined ? '' : `; the pipe is retrying: ${pipeFailure}`}`);
          }
          onProgress?.(stats());
          await sleep(100);
        }
      },
      diffTables: async ({ limit = 10, target } = {}) => {
        const spec = target === undefined ? owner : specs.find((t) => t.name === target);
        if (spec === undefined) throw new EmulatorError(`diffTables: no target "${target}" in this session (targets: ${specs.map((t) => t.name).join(', ')})`);
        const [sourceItems, targetItems] = await Promise.all([scanAll(dynamodb, SOURCE_TABLE), scanAll(dynamodb, spec.tableName)]);
        const keyNames = keyAttributeNames(opts.keySchema);
        const keysOf = (item: AttributeMapWire): AttributeMapWire => Object.fromEntries(keyNames.map((n) => [n, item[n]]));
        const expectedItems = expectedView(spec, opts.keySchema, sourceItems, tombstones, keysOf);
        const targetByKey = new Map(targetItems.map((item) => [canonicalKey(keysOf(item)), item]));
        const diff: TableDiff = { missing: 0, extra: 0, different: 0, examples: [] };
        const note = (kind: 'missing' | 'extra' | 'different', item: AttributeMapWire): void => {
          diff[kind] += 1;
          if (diff.examples.length < limit) diff.examples.push({ keys: keysOf(item), kind });
        };
        for (const item of expectedItems) {
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
