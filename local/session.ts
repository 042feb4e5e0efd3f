import type { z } from 'zod';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQS_LIMITS } from '../handlers/core/aws-limits';
import { sleep } from '../handlers/core/backoff';
import type { KeySchema } from '../handlers/core/key-schema';
import type { AttributeMapWire } from '../schemas/attribute-value';
import type { DeliveryMode, TargetFilter, targetFilterSchema, targetRedactionSchema } from '../schemas/replication-config';
import { EmulatorError } from './errors';
import type { DeployedDefinition, LocalDeploymentSpec } from './deployed-definition';
import { EventSourceEmulator } from './event-source-emulator';
import type { FaultProxyStats } from './fault-proxy';
import { FaultInjector, type FaultRates } from './faults';
import { PipeEmulator, type EnrichFn } from './pipe-emulator';
import { LOCAL_REGION, SOURCE_TABLE } from './session-constants';
import { createSessionTables, startEmulators, type SessionEmulators } from './session-emulators';
import { loadHandlers, type LoadedHandlers } from './session-handlers';
import { LagTracker } from './session-lag';
import { QueueSampler } from './session-queues';
import { createStackQueues, sessionStack, type SessionStack, type TargetQueues } from './session-stack';
import { diffTarget, resolveTargets, type TableDiff, type TargetSpec } from './session-targets';

export { LOCAL_CONTROL_REPLICATION, LOCAL_REGION, LOCAL_REPLICATION_NAME, LOCAL_TARGET } from './session-constants';
export type { TableDiff } from './session-targets';
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


let activeSession = false;

/** What stops a session's parts, run last-started first; errors are collected, not fatal to the rest. */
class Stoppers {
  private readonly stops: (() => Promise<void>)[] = [];

  readonly add = (stop: () => Promise<void>): void => {
    this.stops.push(stop);
  };

  async stopAll(): Promise<void> {
    const errors: unknown[] = [];
    for (const stopOne of this.stops.splice(0).reverse()) {
      try {
        await stopOne();
      } catch (error) {
        errors.push(error);
      }
    }
    if (errors.length > 0) throw new EmulatorError(`stopping the local session failed: ${errors.map(String).join('; ')}`, { cause: errors[0] });
  }
}

/** Everything a running session is made of; the LocalSession methods work on it. */
interface SessionParts {
  opts: LocalSessionOptions;
  log: (line: string) => void;
  faults: FaultInjector;
  emulators: SessionEmulators;
  specs: TargetSpec[];
  stack: SessionStack;
  queuesByTarget: TargetQueues[];
  pipes: PipeEmulator[];
  /** The pipe feeding the first target (lag pairing and tombstones follow it). */
  pipe: PipeEmulator;
  eventSources: EventSourceEmulator[];
  lag: LagTracker;
  sampler: QueueSampler;
  replicationStarted: boolean;
}

/**
 * One pipe emulator per pipe of the template, filtering with its FilterCriteria, and one event
 * source per target. Lag pairing and tombstones follow the pipe that feeds the first target (every
 * pipe reads every record); lag closes on the first target's apply.
 */
function emulateReplication(
  opts: LocalSessionOptions,
  deps: { emulators: SessionEmulators; stack: SessionStack; streamArn: string; localQueue: (logicalId: string) => { queueUrl: string }; queuesByTarget: TargetQueues[]; handlers: LoadedHandlers; faults: FaultInjector; lag: LagTracker; log: (line: string) => void },
): { pipes: PipeEmulator[]; pipe: PipeEmulator; eventSources: EventSourceEmulator[] } {
  const { definition, visibilityOverride } = deps.stack;
  const { streams, sqs } = deps.emulators;
  const firstPipeId = definition.targets[0]?.pipeLogicalId;
  const pipes = definition.pipes.map((pipeDef) => {
    const targetQueue = definition.queues.get(pipeDef.targetQueueLogicalId);
    return new PipeEmulator({
      streams, sqs, streamArn: deps.streamArn,
      pipe: pipeDef,
      target: { queueUrl: deps.localQueue(pipeDef.targetQueueLogicalId).queueUrl, fifo: targetQueue?.fifo ?? true, maximumMessageBytes: targetQueue?.maximumMessageBytes ?? SQS_LIMITS.maxMessageBytes },
      ...(pipeDef.deadLetterQueueLogicalId === undefined ? {} : { deadLetterQueueUrl: deps.localQueue(pipeDef.deadLetterQueueLogicalId).queueUrl }),
      enrich: deps.handlers.enrichers.get(pipeDef.logicalId) as EnrichFn,
      faults: deps.faults,
      pollIntervalMs: opts.pollIntervalMs ?? 50,
      partitionKeyName: opts.keySchema.partitionKey.name,
      ...(opts.pipeBatchLatencyMs === undefined ? {} : { batchLatencyMs: opts.pipeBatchLatencyMs }),
      ...(pipeDef.logicalId === firstPipeId ? { onDelivered: deps.lag.onDelivered } : {}),
      onLog: deps.log,
    });
  });
  const pipe = pipes.find((_, i) => definition.pipes[i]?.logicalId === firstPipeId) as PipeEmulator;
  const eventSources = definition.targets.map((target, i) => new EventSourceEmulator({
    sqs, queueUrl: deps.queuesByTarget[i].queueUrl, queueArn: deps.queuesByTarget[i].queueArn, region: LOCAL_REGION,
    apply: deps.handlers.applies[i],
    faults: deps.faults,
    batchSize: target.eventSourceMapping.batchSize,
    reportBatchItemFailures: target.eventSourceMapping.reportBatchItemFailures,
    fifo: target.queue.fifo,
    visibilityTimeoutSeconds: visibilityOverride ?? target.queue.visibilityTimeoutSeconds,
    functionTimeoutSeconds: target.applyFunction.timeoutSeconds,
    ...(target.eventSourceMapping.maximumConcurrency === undefined ? {} : { maximumConcurrency: target.eventSourceMapping.maximumConcurrency }),
    ...(opts.targets !== undefined ? { functionName: `ddbrepl-${target.name}-apply` } : {}),
    ...(i === 0 ? { onApplied: deps.lag.onApplied } : {}),
    onLog: deps.log,
  }));
  return { pipes, pipe, eventSources };
}

/** Starts the emulators, creates the tables and queues the template defines, loads the handlers and wires the pipes and event sources. */
async function buildSession(opts: LocalSessionOptions, stoppers: Stoppers, log: (line: string) => void): Promise<SessionParts> {
  const faults = new FaultInjector(opts.faults ?? {}, opts.seed ?? 1);
  const emulators = await startEmulators(faults, log, stoppers.add);
  const specs = resolveTargets(opts);
  const streamArn = await createSessionTables(emulators.dynamodb, opts.keySchema, specs, opts.ttlAttribute);
  const stack = sessionStack(opts, specs, log);
  const { localQueue, queuesByTarget } = await createStackQueues(emulators.sqs, stack);
  const handlers = await loadHandlers({
    definition: stack.definition,
    localQueue,
    endpoints: { dynamodb: emulators.proxy.endpoint, sqs: emulators.sqsLocal.endpoint, sts: emulators.sts.endpoint },
    workers: opts.targets !== undefined,
    handlerLogLevel: opts.handlerLogLevel ?? 'SILENT',
    visibilityOverride: stack.visibilityOverride,
  }, stoppers.add);
  const lag = new LagTracker();
  const { pipes, pipe, eventSources } = emulateReplication(opts, { emulators, stack, streamArn, localQueue, queuesByTarget, handlers, faults, lag, log });
  stoppers.add(async () => {
    await Promise.all(eventSources.map((e) => e.stop()));
    await Promise.all(pipes.map((p) => p.stop()));
  });
  const inFlight = (): number => eventSources.reduce((sum, e) => sum + e.stats().inFlight, 0);
  const sampler = new QueueSampler(emulators.sqs, queuesByTarget, inFlight, log);
  sampler.start();
  stoppers.add(() => sampler.stop());
  return { opts, log, faults, emulators, specs, stack, queuesByTarget, pipes, pipe, eventSources, lag, sampler, replicationStarted: false };
}

function inFlightOf(parts: SessionParts): number {
  return parts.eventSources.reduce((sum, e) => sum + e.stats().inFlight, 0);
}

function sessionStats(parts: SessionParts): LocalStats {
  const p = parts.pipe.stats();
  const allPipes = parts.pipes.map((one) => one.stats());
  const pipeSum = (field: 'envelopesSent' | 'enrichFailures' | 'poisonSent') => allPipes.reduce((total, one) => total + one[field], 0);
  const e = parts.eventSources.map((source) => source.stats());
  const sum = (field: 'messagesApplied' | 'applyInvocations' | 'applyFailures' | 'applyErrors' | 'duplicateDeliveries') => e.reduce((total, s) => total + s[field], 0);
  const queueCounts = parts.sampler.latest;
  return {
    recordsRead: p.recordsRead,
    envelopesSent: pipeSum('envelopesSent'),
    messagesApplied: sum('messagesApplied'),
    applyInvocations: sum('applyInvocations'),
    applyFailures: sum('applyFailures'),
    queueDepth: queueCounts.waiting,
    inFlight: inFlightOf(parts),
    deadLettered: queueCounts.deadLettered,
    lagMs: parts.lag.lagMs(),
    largestEnrichBatch: Math.max(0, ...allPipes.map((one) => one.largestBatch)),
    assumeRoleCalls: parts.emulators.sts.stats().assumeRoleCalls,
    faults: { ...parts.emulators.proxy.stats(), enrichFailures: pipeSum('enrichFailures'), poisonSent: pipeSum('poisonSent'), duplicateDeliveries: sum('duplicateDeliveries'), applyErrors: sum('applyErrors') },
  };
}

/** Starts every pipe (at the template's StartingPosition unless `from` says otherwise) and event source. */
async function startReplication(parts: SessionParts, from: 'trim-horizon' | 'now' | undefined): Promise<void> {
  for (const [i, one] of parts.pipes.entries()) {
    const pipeDef = parts.stack.definition.pipes[i];
    // 'now': as a pipe deployed with LATEST — what the stream already holds is never delivered.
    if ((from ?? (pipeDef.startingPosition === 'LATEST' ? 'now' : 'trim-horizon')) === 'now') {
      parts.log(`[session] pipe ${pipeDef.name} starts at the end of the stream (${await one.skipToEnd()} records skipped)`);
    }
  }
  parts.replicationStarted = true;
  for (const one of parts.pipes) one.start();
  for (const e of parts.eventSources) e.start();
}

/** Waits until every record written before the call is in the queues and the queues are empty. */
async function waitForDrain(parts: SessionParts, { timeoutMs = 120_000, onProgress }: { timeoutMs?: number; onProgress?: (s: LocalStats) => void }): Promise<void> {
  if (!parts.replicationStarted) throw new EmulatorError('waitForDrain: replication has not been started (call startReplication first)');
  if (parts.eventSources.some((e) => e.isPaused)) throw new EmulatorError('waitForDrain: the apply is paused and the queue would never drain (call resumeApply first)');
  const since = Date.now();
  const deadline = since + timeoutMs;
  for (;;) {
    if (parts.pipes.every((one) => one.caughtUpSince(since)) && inFlightOf(parts) === 0) {
      const { total } = await parts.sampler.sample();
      // Every record written before `since` is in the queues, and the queues are empty: drained.
      if (total === 0 && inFlightOf(parts) === 0) {
        onProgress?.(sessionStats(parts));
        return;
      }
    }
    if (Date.now() > deadline) {
      const s = sessionStats(parts);
      const pipeFailure = parts.pipes.map((one) => one.currentFailure()).find((f) => f !== undefined);
      throw new EmulatorError(`replication did not drain within ${timeoutMs} ms (read ${s.recordsRead}, sent ${s.envelopesSent}, applied ${s.messagesApplied}, queue ${s.queueDepth}, in flight ${s.inFlight}, DLQ ${s.deadLettered})${pipeFailure === undefined ? '' : `; the pipe is retrying: ${pipeFailure}`}`);
    }
    onProgress?.(sessionStats(parts));
    await sleep(100);
  }
}

/** The LocalSession API over a built session. */
function sessionApi(parts: SessionParts, stop: () => Promise<void>): LocalSession {
  const { emulators, specs, queuesByTarget, stack, opts } = parts;
  const [owner] = specs;
  const [queues] = queuesByTarget;
  return {
    endpoints: { dynamodb: emulators.ddb.endpoint, sqs: emulators.sqsLocal.endpoint, sts: emulators.sts.endpoint },
    sourceTableName: SOURCE_TABLE,
    targetTableName: owner.tableName,
    queueUrl: queues.queueUrl,
    deadLetterQueueUrl: queues.deadLetterQueueUrl,
    targets: specs.map((spec, i) => ({ name: spec.name, tableName: spec.tableName, queueUrl: queuesByTarget[i].queueUrl, deadLetterQueueUrl: queuesByTarget[i].deadLetterQueueUrl })),
    definition: stack.definition,
    localOverrides: stack.localOverrides,
    sourceClient: emulators.dynamodb,
    targetClient: emulators.dynamodb,
    applyDynamoDbEndpoint: emulators.proxy.endpoint,
    processIds: { dynamodbLocalGroup: emulators.ddb.pid, sqs: emulators.sqsLocal.pid },
    setFaults: (rates) => parts.faults.setRates(rates),
    startReplication: ({ from } = {}) => startReplication(parts, from),
    pauseApply: async () => {
      await Promise.all(parts.eventSources.map((e) => e.pause()));
    },
    resumeApply: () => {
      for (const e of parts.eventSources) e.resume();
      return Promise.resolve();
    },
    stats: () => sessionStats(parts),
    noteWrite: (keys, atMs) => parts.lag.noteWrite(keys, atMs),
    waitForDrain: (waitOpts = {}) => waitForDrain(parts, waitOpts),
    diffTables: async ({ limit = 10, target } = {}) => {
      const spec = target === undefined ? owner : specs.find((t) => t.name === target);
      if (spec === undefined) throw new EmulatorError(`diffTables: no target "${target}" in this session (targets: ${specs.map((t) => t.name).join(', ')})`);
      return diffTarget(emulators.dynamodb, spec, opts.keySchema, parts.lag.tombstones, limit);
    },
    stop,
  };
}

export async function startLocalSession(opts: LocalSessionOptions): Promise<LocalSession> {
  if (activeSession) throw new EmulatorError('a local session is already running in this process; stop it first (the handlers read their configuration once, at load)');
  activeSession = true;
  const log = opts.onLog ?? (() => undefined);
  const stoppers = new Stoppers();
  const stopAll = async (): Promise<void> => {
    try {
      await stoppers.stopAll();
    } finally {
      activeSession = false;
    }
  };
  try {
    const parts = await buildSession(opts, stoppers, log);
    let stopping: Promise<void> | undefined;
    const session = sessionApi(parts, () => {
      stopping ??= stopAll();
      return stopping;
    });
    const { ddb, sqsLocal, sts, proxy } = parts.emulators;
    log(`[session] ready: dynamodb ${ddb.endpoint}, sqs ${sqsLocal.endpoint}, sts ${sts.endpoint}, apply via ${proxy.endpoint}`);
    return session;
  } catch (error) {
    await stopAll().catch((stopError: unknown) => log(`[session] cleanup after a failed start failed: ${String(stopError)}`));
    throw error;
  }
}
