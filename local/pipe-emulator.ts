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
import { SendMessageBatchCommand, type SendMessageBatchRequestEntry, type SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBRecord } from 'aws-lambda';
import type { ChangeEnvelopeV1 } from '../schemas/change-envelope.v1';
import { toWireAttributeMap } from '../handlers/core/attribute-value';
import { ReplicationError } from '../handlers/core/errors';
import type { RecordPredicate } from '../handlers/core/filter';
import type { FaultInjector } from './faults';
import { describeAllShards, readableShards } from './pipe-lineage';
import { sqsSafeJson } from './sqs-local';

/**
 * The EventBridge Pipe, locally: DynamoDB stream → filter → enrichment → FIFO queue (docs/architecture.md#local-mode).
 * Reads every shard in lineage order, hands the real `enrich` handler the records in the JSON wire
 * shape Pipes uses, and sends each returned envelope as one message (group = groupId, dedup id =
 * eventId). A batch that fails anywhere (enrichment, send) is retried as a whole without advancing;
 * an iterator lost to an error is reacquired AFTER the last sequence number delivered.
 */
export type EnrichFn = (records: DynamoDBRecord[]) => Promise<ChangeEnvelopeV1[]>;

export interface PipeEmulatorOptions {
  streams: DynamoDBStreamsClient;
  sqs: SQSClient;
  streamArn: string;
  queueUrl: string;
  predicate: RecordPredicate;
  enrich: EnrichFn;
  faults: FaultInjector;
  /** Stream records per enrichment call (the pipe's batch size). @default 100 */
  batchSize?: number;
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
      Keys: map(ddb.Keys as Record<string, AttributeValue> | undefined) as NonNullable<DynamoDBRecord['dynamodb']>['Keys'],
      NewImage: map(ddb.NewImage as Record<string, AttributeValue> | undefined) as NonNullable<DynamoDBRecord['dynamodb']>['NewImage'],
      OldImage: map(ddb.OldImage as Record<string, AttributeValue> | undefined) as NonNullable<DynamoDBRecord['dynamodb']>['OldImage'],
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
  private readonly counters: PipeStats = { recordsRead: 0, recordsFiltered: 0, envelopesSent: 0, batchRetries: 0, enrichFailures: 0, poisonSent: 0 };
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

  constructor(private readonly opts: PipeEmulatorOptions) {
    this.log = opts.onLog ?? (() => undefined);
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
      out = await this.opts.streams.send(new GetRecordsCommand({ ShardIterator: state.iterator, Limit: this.opts.batchSize ?? 100 }));
    } catch (error) {
      // Expired/trimmed iterator or a transient error: reacquire from the last delivered record.
      state.iterator = undefined;
      throw error;
    }
    const records = out.Records ?? [];
    if (records.length > 0) {
      await this.deliver(records.map((r) => toPipesRecord(r, this.opts.streamArn)));
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

  /** Filter → enrich → send, retried as a whole until it succeeds (or the pipe stops). */
  private async deliver(records: DynamoDBRecord[]): Promise<void> {
    for (let attempt = 1; !this.stopped; attempt += 1) {
      let stage: 'enrich' | 'send' = 'enrich';
      try {
        const kept = records.filter(this.opts.predicate);
        if (this.opts.faults.fires('enrichFailure')) throw new InjectedEnrichFailure('injected enrichment failure');
        const envelopes = kept.length > 0 ? await this.opts.enrich(kept) : [];
        stage = 'send';
        await this.send(envelopes.map((e) => ({ Id: '', MessageBody: sqsSafeJson(e), MessageGroupId: e.groupId, MessageDeduplicationId: e.eventId })));
        if (this.opts.faults.fires('poisonMessage')) await this.sendPoison();
        this.counters.recordsRead += records.length;
        this.counters.recordsFiltered += records.length - kept.length;
        this.counters.envelopesSent += envelopes.length;
        const keptSet = new Set(kept);
        for (const record of records) this.opts.onDelivered?.(record, keptSet.has(record));
        this.failure = undefined;
        return;
      } catch (error) {
        this.counters.batchRetries += 1;
        if (stage === 'enrich') this.counters.enrichFailures += 1;
        this.failure = `batch of ${records.length} failed in ${stage} (attempt ${attempt}): ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`;
        this.log(`[pipe] ${this.failure}; retrying without advancing`);
        await sleep(Math.min(RETRY_DELAY_MS * attempt, 2000));
      }
    }
  }

  /** The `poison-message` fault: a body no consumer can decode, in a group of its own. */
  private async sendPoison(): Promise<void> {
    const id = randomUUID();
    await this.send([{ Id: '', MessageBody: `poison ${id} — not an envelope`, MessageGroupId: `poison-${id}`, MessageDeduplicationId: `poison-${id}` }]);
    this.counters.poisonSent += 1;
  }

  /** SendMessageBatch in chunks of 10, retrying the entries SQS reports failed. */
  private async send(messages: SendMessageBatchRequestEntry[]): Promise<void> {
    for (let start = 0; start < messages.length; start += 10) {
      let entries = messages.slice(start, start + 10).map((m, i) => ({ ...m, Id: String(i) }));
      for (let attempt = 1; entries.length > 0; attempt += 1) {
        const out = await this.opts.sqs.send(new SendMessageBatchCommand({ QueueUrl: this.opts.queueUrl, Entries: entries }));
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
