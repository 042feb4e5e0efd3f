import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  GetRecordsCommand,
  GetShardIteratorCommand,
  type DynamoDBStreamsClient,
  type _Record as StreamRecordSdk,
  type Shard,
} from '@aws-sdk/client-dynamodb-streams';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { SendMessageBatchCommand, SendMessageCommand, type SendMessageBatchRequestEntry, type SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBRecord } from 'aws-lambda';
import { toWireAttributeMap } from '../handlers/core/attribute-value';
import { ReplicationError } from '../handlers/core/errors';
import { SQS_LIMITS } from '../handlers/core/aws-limits';
import { checkEnrichmentResponse, checkPipeBatchSize, checkSendMessageBatch } from './aws-refusals';
import { readDynamicPath, type PipeDefinition } from './deployed-definition';
import { compileFilterCriteria } from './event-pattern';
import type { FaultInjector } from './faults';
import { describeAllShards } from '../common/stream-shards';
import { readableShards } from './pipe-lineage';
import { partitionKeyOf, processShardPage, validateParallelizationFactor } from './shard-parallelism';
import { sqsSafeJson } from './sqs-local';

/**
 * The EventBridge Pipe, locally: DynamoDB stream → filter → enrichment → FIFO queue (docs/architecture.md#local-mode), as
 * the synthesized template defines it (local/deployed-definition.ts): batch size, FilterCriteria
 * (EventBridge pattern semantics, local/event-pattern.ts), retries and bisection, the pipe DLQ, and
 * the SQS target's MessageGroupId / MessageDeduplicationId paths read from each element the real
 * `enrich` handler returns. Reads every shard in lineage order and hands the handler the records in
 * the JSON wire shape Pipes uses. A batch that fails anywhere (enrichment, send) is retried without
 * advancing — bisected first when the template says AUTOMATIC_BISECT — until MaximumRetryAttempts,
 * then its metadata goes to the pipe DLQ and the shard moves on, as in AWS. An iterator lost to an
 * error is reacquired AFTER the last sequence number delivered. It refuses what AWS refuses
 * (local/aws-refusals.ts): a batch size over the target's, an enrichment response over 6 MB, a
 * SendMessageBatch SQS would reject.
 */
export type EnrichFn = (records: DynamoDBRecord[]) => Promise<unknown[]>;

/** What the pipe emulator takes from the template's pipe definition. */
export type PipeSettings = Pick<PipeDefinition, 'name' | 'batchSize' | 'parallelizationFactor' | 'maximumRetryAttempts' | 'bisectOnFailure' | 'filterPatterns' | 'messageGroupIdPath' | 'messageDeduplicationIdPath'>;

export interface PipeEmulatorOptions {
  streams: DynamoDBStreamsClient;
  sqs: SQSClient;
  streamArn: string;
  /** The pipe as the template defines it. */
  pipe: PipeSettings;
  /** The target queue (FIFO) and its MaximumMessageSize. */
  target: { queueUrl: string; fifo: boolean; maximumMessageBytes: number };
  /** The pipe DLQ: metadata of batches that exhausted their retries. @default none (they are logged and skipped) */
  deadLetterQueueUrl?: string;
  enrich: EnrichFn;
  faults: FaultInjector;
  /** The table's partition key, which spreads records over the parallel batches. @default all of a record's Keys */
  partitionKeyName?: string;
  /** Added to every batch attempt, modelling the enrichment invoke and SQS send round trips on AWS (the bench). @default 0 */
  batchLatencyMs?: number;
  /** Sleep between polls of a caught-up stream. @default 50 */
  pollIntervalMs?: number;
  /** Called for each record of a delivered batch, after the messages were accepted; `kept` = passed the filter. */
  onDelivered?: (record: DynamoDBRecord, kept: boolean) => void;
  onLog?: (line: string) => void;
}

export interface PipeStats {
  recordsRead: number;
  recordsFiltered: number;
  envelopesSent: number;
  batchRetries: number;
  enrichFailures: number;
  poisonSent: number;
  /** The most records handed to one enrichment call (≤ the template's batch size). */
  largestBatch: number;
  /** Records whose batch exhausted MaximumRetryAttempts (their metadata went to the pipe DLQ). */
  recordsDeadLettered: number;
}

/** An injected enrichment failure (the `enrich-failure` fault). */
export class InjectedEnrichFailure extends ReplicationError {
  override readonly name: string = 'InjectedEnrichFailure';
}

interface ShardState {
  iterator?: string;
  lastSequenceNumber?: string;
}

const SEND_ATTEMPTS = 5;
const SHARD_REFRESH_MS = 1000;
const RETRY_DELAY_MS = 100;

/** SDK stream record → the JSON record Pipes delivers (B/BS base64, creation time in epoch seconds). */
export function toPipesRecord(record: StreamRecordSdk, streamArn: string): DynamoDBRecord {
  const ddb = record.dynamodb ?? {};
  const map = (m: Record<string, AttributeValue> | undefined) => (m === undefined ? undefined : toWireAttributeMap(m));
  const out: DynamoDBRecord = {
    eventID: record.eventID,
    eventName: record.eventName,
    eventVersion: record.eventVersion,
    eventSource: record.eventSource,
    awsRegion: record.awsRegion,
    dynamodb: {
      ApproximateCreationDateTime: ddb.ApproximateCreationDateTime === undefined ? undefined : ddb.ApproximateCreationDateTime.getTime() / 1000,
      // The aws-lambda types spell B as string, which is exactly the wire form produced here.
      Keys: map(ddb.Keys) as NonNullable<DynamoDBRecord['dynamodb']>['Keys'],
      NewImage: map(ddb.NewImage) as NonNullable<DynamoDBRecord['dynamodb']>['NewImage'],
      OldImage: map(ddb.OldImage) as NonNullable<DynamoDBRecord['dynamodb']>['OldImage'],
      SequenceNumber: ddb.SequenceNumber,
      SizeBytes: ddb.SizeBytes,
      StreamViewType: ddb.StreamViewType,
    },
    eventSourceARN: streamArn,
  };
  if (record.userIdentity !== undefined) out.userIdentity = { type: record.userIdentity.Type, principalId: record.userIdentity.PrincipalId };
  for (const name of ['NewImage', 'OldImage', 'ApproximateCreationDateTime'] as const) {
    if (out.dynamodb?.[name] === undefined) delete out.dynamodb?.[name];
  }
  return out;
}

export class PipeEmulator {
  private readonly counters: PipeStats = { recordsRead: 0, recordsFiltered: 0, envelopesSent: 0, batchRetries: 0, enrichFailures: 0, poisonSent: 0, largestBatch: 0, recordsDeadLettered: 0 };
  private readonly states = new Map<string, ShardState>();
  private readonly exhausted = new Set<string>();
  private shards: Shard[] = [];
  private shardsRefreshedAt = 0;
  private running?: Promise<void>;
  private stopped = false;
  /** Start time of the latest pass that found every readable shard caught up. */
  private idlePassStartedAt = 0;
  private failure?: string;
  private readonly log: (line: string) => void;
  private readonly keep: (record: DynamoDBRecord) => boolean;

  constructor(private readonly opts: PipeEmulatorOptions) {
    this.log = opts.onLog ?? (() => undefined);
    // As CreatePipe would: a batch the target cannot take, or a pattern EventBridge rejects, fails here.
    checkPipeBatchSize(opts.pipe.name, opts.pipe.batchSize);
    this.keep = compileFilterCriteria(opts.pipe.filterPatterns);
    validateParallelizationFactor(opts.pipe.parallelizationFactor);
  }

  start(): void {
    this.running ??= this.loop();
  }

  /**
   * The local equivalent of starting a pipe at LATEST, without LATEST's race: reads every shard to
   * its current end and discards what it read, so the pipe later delivers only records written
   * after this resolves. Call before start().
   */
  async skipToEnd(): Promise<number> {
    let skipped = 0;
    this.shards = await describeAllShards(this.opts.streams, this.opts.streamArn);
    this.shardsRefreshedAt = Date.now();
    for (const shard of this.shards) {
      const shardId = shard.ShardId as string;
      let iterator = (await this.opts.streams.send(new GetShardIteratorCommand({ StreamArn: this.opts.streamArn, ShardId: shardId, ShardIteratorType: 'TRIM_HORIZON' }))).ShardIterator;
      const state: ShardState = {};
      while (iterator !== undefined) {
        const out = await this.opts.streams.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 1000 }));
        const records = out.Records ?? [];
        skipped += records.length;
        if (records.length > 0) state.lastSequenceNumber = records[records.length - 1]?.dynamodb?.SequenceNumber;
        iterator = out.NextShardIterator;
        // An open shard answers an empty page once caught up; keep its iterator for the pipe loop.
        if (records.length === 0) break;
      }
      state.iterator = iterator;
      this.states.set(shardId, state);
      if (iterator === undefined) this.markExhausted(shardId);
    }
    return skipped;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.running;
  }

  stats(): PipeStats {
    return { ...this.counters };
  }

  /** True once a full pass that started at or after `sinceMs` found nothing new in any shard. */
  caughtUpSince(sinceMs: number): boolean {
    return this.idlePassStartedAt >= sinceMs;
  }

  /** The latest failure while a batch is still being retried (cleared on success), for diagnostics. */
  currentFailure(): string | undefined {
    return this.failure;
  }

  private async loop(): Promise<void> {
    const pollIntervalMs = this.opts.pollIntervalMs ?? 50;
    while (!this.stopped) {
      const passStartedAt = Date.now();
      let idle = true;
      try {
        if (passStartedAt - this.shardsRefreshedAt > SHARD_REFRESH_MS) {
          this.shards = await describeAllShards(this.opts.streams, this.opts.streamArn);
          this.shardsRefreshedAt = passStartedAt;
        }
        for (const shard of readableShards(this.shards, this.exhausted)) {
          if (this.stopped) return;
          if ((await this.readShard(shard.ShardId as string)) > 0) idle = false;
        }
      } catch (error) {
        idle = false;
        this.failure = `stream read failed: ${String(error)}`;
        this.log(`[pipe] ${this.failure}; retrying`);
        await sleep(RETRY_DELAY_MS);
      }
      if (idle) this.idlePassStartedAt = passStartedAt;
      if (idle) await sleep(pollIntervalMs);
    }
  }

  /** One GetRecords on a shard; delivers what it read. Returns the number of records read. */
  private async readShard(shardId: string): Promise<number> {
    const state = this.states.get(shardId) ?? {};
    this.states.set(shardId, state);
    if (state.iterator === undefined) {
      const out = await this.opts.streams.send(new GetShardIteratorCommand({
        StreamArn: this.opts.streamArn,
        ShardId: shardId,
        ...(state.lastSequenceNumber === undefined
          ? { ShardIteratorType: 'TRIM_HORIZON' }
          : { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', SequenceNumber: state.lastSequenceNumber }),
      }));
      state.iterator = out.ShardIterator;
      if (state.iterator === undefined) {
        this.markExhausted(shardId);
        return 0;
      }
    }
    let out;
    try {
      // Up to PF batches' worth per page; processShardPage cuts it into batches of the template's size.
      out = await this.opts.streams.send(new GetRecordsCommand({ ShardIterator: state.iterator, Limit: this.opts.pipe.batchSize * this.opts.pipe.parallelizationFactor }));
    } catch (error) {
      // Expired/trimmed iterator or a transient error: reacquire from the last delivered record.
      state.iterator = undefined;
      throw error;
    }
    const records = out.Records ?? [];
    if (records.length > 0) {
      await processShardPage(records.map((r) => toPipesRecord(r, this.opts.streamArn)), {
        parallelizationFactor: this.opts.pipe.parallelizationFactor,
        batchSize: this.opts.pipe.batchSize,
        keyOf: (record) => partitionKeyOf(record, this.opts.partitionKeyName),
        processBatch: (batch) => this.deliver(batch),
      });
      state.lastSequenceNumber = records[records.length - 1]?.dynamodb?.SequenceNumber;
    }
    state.iterator = out.NextShardIterator;
    if (state.iterator === undefined) this.markExhausted(shardId);
    return records.length;
  }

  private markExhausted(shardId: string): void {
    this.exhausted.add(shardId);
    this.shardsRefreshedAt = 0; // a closed parent usually means new children: look now
    this.log(`[pipe] shard ${shardId} exhausted`);
  }

  /**
   * Filter → enrich → send, retried until it succeeds, the pipe stops, or the template's
   * MaximumRetryAttempts are spent (then the pipe DLQ gets the batch's metadata). With
   * AUTOMATIC_BISECT a failed batch is split in halves, each delivered in order with the retries left.
   */
  private async deliver(records: DynamoDBRecord[], retriesSoFar = 0): Promise<void> {
    const maxRetries = this.opts.pipe.maximumRetryAttempts;
    let retries = retriesSoFar;
    for (let attempt = 1; !this.stopped; attempt += 1) {
      let stage: 'enrich' | 'send' = 'enrich';
      try {
        if ((this.opts.batchLatencyMs ?? 0) > 0) await sleep(this.opts.batchLatencyMs);
        const kept = records.filter(this.keep);
        if (this.opts.faults.fires('enrichFailure')) throw new InjectedEnrichFailure('injected enrichment failure');
        this.counters.largestBatch = Math.max(this.counters.largestBatch, kept.length);
        const elements = kept.length > 0 ? await this.opts.enrich(kept) : [];
        checkEnrichmentResponse(`${this.opts.pipe.name} enrichment`, elements);
        stage = 'send';
        await this.send(elements.map((element) => this.toEntry(element)));
        if (this.opts.faults.fires('poisonMessage')) await this.sendPoison();
        this.counters.recordsRead += records.length;
        this.counters.recordsFiltered += records.length - kept.length;
        this.counters.envelopesSent += elements.length;
        const keptSet = new Set(kept);
        for (const record of records) this.opts.onDelivered?.(record, keptSet.has(record));
        this.failure = undefined;
        return;
      } catch (error) {
        this.counters.batchRetries += 1;
        if (stage === 'enrich') this.counters.enrichFailures += 1;
        this.failure = `batch of ${records.length} failed in ${stage} (attempt ${attempt}): ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`;
        if (maxRetries >= 0 && retries >= maxRetries) {
          await this.deadLetter(records, error);
          return;
        }
        retries += 1;
        if (this.opts.pipe.bisectOnFailure && records.length > 1) {
          this.log(`[pipe] ${this.failure}; bisecting`);
          const half = Math.ceil(records.length / 2);
          await this.deliver(records.slice(0, half), retries);
          await this.deliver(records.slice(half), retries);
          return;
        }
        this.log(`[pipe] ${this.failure}; retrying without advancing`);
        await sleep(Math.min(RETRY_DELAY_MS * attempt, 2000));
      }
    }
  }

  /** One element the enrichment returned → one SQS message, group and dedup id read by the template's dynamic paths. */
  private toEntry(element: unknown): SendMessageBatchRequestEntry {
    const { messageGroupIdPath, messageDeduplicationIdPath } = this.opts.pipe;
    const groupId = messageGroupIdPath === undefined ? undefined : readDynamicPath(messageGroupIdPath, element);
    const dedupId = messageDeduplicationIdPath === undefined ? undefined : readDynamicPath(messageDeduplicationIdPath, element);
    return { Id: '', MessageBody: sqsSafeJson(element), ...(groupId === undefined ? {} : { MessageGroupId: groupId }), ...(dedupId === undefined ? {} : { MessageDeduplicationId: dedupId }) };
  }

  /** Retries spent: the batch's metadata (never its records) to the pipe DLQ, and the shard moves on, as Pipes does. */
  private async deadLetter(records: DynamoDBRecord[], error: unknown): Promise<void> {
    this.counters.recordsDeadLettered += records.length;
    this.counters.recordsRead += records.length;
    const first = records[0]?.dynamodb?.SequenceNumber;
    const last = records[records.length - 1]?.dynamodb?.SequenceNumber;
    this.log(`[pipe] ${this.failure}; retries exhausted: ${records.length} record(s) ${first}…${last} to the pipe DLQ`);
    if (this.opts.deadLetterQueueUrl === undefined) return;
    const body = JSON.stringify({ pipe: this.opts.pipe.name, streamArn: this.opts.streamArn, startSequenceNumber: first, endSequenceNumber: last, batchSize: records.length, error: error instanceof Error ? error.name : 'Error' });
    await this.opts.sqs.send(new SendMessageCommand({ QueueUrl: this.opts.deadLetterQueueUrl, MessageBody: body }));
  }

  /** The `poison-message` fault: a body no consumer can decode, in a group of its own. */
  private async sendPoison(): Promise<void> {
    const id = randomUUID();
    await this.send([{ Id: '', MessageBody: `poison ${id} — not an envelope`, MessageGroupId: `poison-${id}`, MessageDeduplicationId: `poison-${id}` }]);
    this.counters.poisonSent += 1;
  }

  /**
   * The SQS target's delivery: one SendMessageBatch per pipe batch, checked as SQS would check it —
   * the safe reading of an undocumented point (docs/aws-contracts.md: whether Pipes splits a batch
   * over 1 MiB), which the config's pipeBatchSize × resyncThresholdBytes ≤ 1 MiB rule keeps valid.
   * Retries the entries SQS reports failed.
   */
  private async send(messages: SendMessageBatchRequestEntry[]): Promise<void> {
    for (let start = 0; start < messages.length; start += SQS_LIMITS.maxEntriesPerBatch) {
      let entries = messages.slice(start, start + SQS_LIMITS.maxEntriesPerBatch).map((m, i) => ({ ...m, Id: String(i) }));
      checkSendMessageBatch(entries, this.opts.target);
      for (let attempt = 1; entries.length > 0; attempt += 1) {
        const out = await this.opts.sqs.send(new SendMessageBatchCommand({ QueueUrl: this.opts.target.queueUrl, Entries: entries }));
        const failed = out.Failed ?? [];
        if (failed.length === 0) break;
        const reasons = failed.map((f) => `${f.Code ?? '?'}${f.SenderFault === true ? ' (sender fault)' : ''}`).join(', ');
        if (attempt >= SEND_ATTEMPTS || failed.some((f) => f.SenderFault === true)) {
          throw new ReplicationError(`SendMessageBatch failed for ${failed.length} of ${entries.length} messages: ${reasons}`);
        }
        const failedIds = new Set(failed.map((f) => f.Id));
        entries = entries.filter((e) => failedIds.has(e.Id));
        await sleep(RETRY_DELAY_MS * attempt);
      }
    }
  }
}
