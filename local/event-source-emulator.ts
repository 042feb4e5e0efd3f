import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  type Message,
  type MessageAttributeValue,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSEvent, SQSMessageAttributes, SQSRecord } from 'aws-lambda';
import { checkEventSourceBatchSize } from './aws-refusals';
import type { FaultInjector } from './faults';

// Handler workers live in local/handler-worker.ts; re-exported for the modules that start them with the emulator.
export { startApplyWorker, startHandlerWorker, WorkerApplyError, type ApplyWorker, type HandlerWorker } from './handler-worker';

/**
 * The Lambda SQS FIFO event source mapping, locally (docs/architecture.md#local-mode): a few pollers receive batches
 * (≤ 10) from the FIFO queue, invoke the real apply handler with a real SQSEvent and a Lambda-like
 * Context, delete what succeeded, and leave reported failures — and the whole batch when the
 * handler throws or times out — to reappear after the visibility timeout, so redrive to the DLQ
 * after maxReceiveCount happens in the queue itself, as in AWS.
 *
 * While a batch is being handled its messages' visibility is extended periodically: in AWS the
 * visibility timeout is six times the function timeout so in-flight messages never reappear; a
 * heartbeat gives the same guarantee with a small local visibility timeout, which keeps failure
 * retries (and the poison → DLQ path) fast.
 */
export type ApplyFn = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

export interface EventSourceEmulatorOptions {
  sqs: SQSClient;
  queueUrl: string;
  queueArn: string;
  region: string;
  apply: ApplyFn;
  faults: FaultInjector;
  /** Concurrent pollers/invocations (the mapping's maximumConcurrency). @default 3 */
  maximumConcurrency?: number;
  /** The mapping's BatchSize (a FIFO source takes at most 10: refused above, as CreateEventSourceMapping does). @default 10 */
  batchSize?: number;
  /** The mapping's FunctionResponseTypes has ReportBatchItemFailures; without it Lambda ignores the response's batchItemFailures. @default true */
  reportBatchItemFailures?: boolean;
  /** The source queue is FIFO. @default true */
  fifo?: boolean;
  visibilityTimeoutSeconds: number;
  /** The function timeout, from which Context.getRemainingTimeInMillis counts down. @default 10 */
  functionTimeoutSeconds?: number;
  /** Long-poll wait per receive; short so pause/stop take effect quickly. @default 1 */
  waitTimeSeconds?: number;
  functionName?: string;
  /** Called for every message deleted after a successful apply (first delivery only). */
  onApplied?: (record: SQSRecord) => void;
  /**
   * Event log: every receive (with its ApproximateReceiveCount), failure and deletion, stamped by
   * `now`. A message's next receive after a failure is when SQS made it visible again — whether
   * after the visibility timeout or after the shorter backoff apply set (ChangeMessageVisibility,
   * which fauxqs honours as SQS does). @default none
   */
  onEvent?: (event: EventSourceEvent) => void;
  /** Clock of the event log. @default Date.now */
  now?: () => number;
  onLog?: (line: string) => void;
}

export interface EventSourceEvent {
  type: 'receive' | 'fail' | 'delete';
  messageId: string;
  groupId: string;
  /** ApproximateReceiveCount of this delivery. */
  receiveCount: number;
  at: number;
}

export interface EventSourceStats {
  messagesApplied: number;
  applyInvocations: number;
  /** Messages not applied by an invocation (reported failed, or the invocation threw / timed out). */
  applyFailures: number;
  /** Invocations that threw or timed out. */
  applyErrors: number;
  duplicateDeliveries: number;
  inFlight: number;
}

/** Thrown into the failure path when an invocation outlives its timeout. */
class InvocationTimeout extends Error {
  override readonly name = 'InvocationTimeout';
}

function toLambdaMessageAttributes(attrs: Record<string, MessageAttributeValue> | undefined): SQSMessageAttributes {
  const out: SQSMessageAttributes = {};
  for (const [name, value] of Object.entries(attrs ?? {})) {
    out[name] = {
      dataType: value.DataType ?? 'String',
      stringValue: value.StringValue,
      binaryValue: value.BinaryValue === undefined ? undefined : Buffer.from(value.BinaryValue).toString('base64'),
      stringListValues: value.StringListValues ?? [],
      binaryListValues: (value.BinaryListValues ?? []).map((b) => Buffer.from(b).toString('base64')),
    };
  }
  return out;
}

/** An SQS message as the Lambda event source hands it to the function. */
export function toSqsRecord(message: Message, queueArn: string, region: string): SQSRecord {
  const a = message.Attributes ?? {};
  return {
    messageId: message.MessageId ?? '',
    receiptHandle: message.ReceiptHandle ?? '',
    body: message.Body ?? '',
    attributes: {
      ApproximateReceiveCount: a.ApproximateReceiveCount ?? '1',
      SentTimestamp: a.SentTimestamp ?? String(Date.now()),
      SenderId: a.SenderId ?? '000000000000',
      ApproximateFirstReceiveTimestamp: a.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
      ...(a.SequenceNumber === undefined ? {} : { SequenceNumber: a.SequenceNumber }),
      ...(a.MessageGroupId === undefined ? {} : { MessageGroupId: a.MessageGroupId }),
      ...(a.MessageDeduplicationId === undefined ? {} : { MessageDeduplicationId: a.MessageDeduplicationId }),
    },
    messageAttributes: toLambdaMessageAttributes(message.MessageAttributes),
    md5OfBody: message.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: region,
  };
}

export function lambdaContext(functionName: string, region: string, timeoutMs: number): Context {
  const deadline = Date.now() + timeoutMs;
  const requestId = randomUUID();
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${region}:000000000000:function:${functionName}`,
    memoryLimitInMB: '512',
    awsRequestId: requestId,
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: `local/[$LATEST]${requestId.replace(/-/g, '')}`,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

export class EventSourceEmulator {
  private readonly counters: Omit<EventSourceStats, 'inFlight'> = { messagesApplied: 0, applyInvocations: 0, applyFailures: 0, applyErrors: 0, duplicateDeliveries: 0 };
  private inFlight = 0;
  /** Pollers inside a receive or an invocation (pause waits for them). */
  private busyPollers = 0;
  private readonly groupsInFlight = new Set<string>();
  private paused = false;
  private stopped = false;
  private pollers: Promise<void>[] = [];
  private readonly log: (line: string) => void;

  constructor(private readonly opts: EventSourceEmulatorOptions) {
    this.log = opts.onLog ?? (() => undefined);
    checkEventSourceBatchSize(opts.batchSize ?? 10, opts.fifo ?? true);
  }

  start(): void {
    if (this.pollers.length > 0) return;
    const n = this.opts.maximumConcurrency ?? 3;
    for (let i = 0; i < n; i += 1) this.pollers.push(this.poll(i));
  }

  /**
   * Stops taking new batches, like disabling the event source mapping. Resolves once no poller is
   * receiving or invoking any more: from then on nothing is applied until resume().
   */
  async pause(): Promise<void> {
    this.paused = true;
    while (this.busyPollers > 0) await sleep(20);
  }

  resume(): void {
    this.paused = false;
  }

  get isPaused(): boolean {
    return this.paused;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.pollers);
  }

  stats(): EventSourceStats {
    return { ...this.counters, inFlight: this.inFlight };
  }

  private async poll(index: number): Promise<void> {
    while (!this.stopped) {
      if (this.paused) {
        await sleep(50);
        continue;
      }
      this.busyPollers += 1;
      try {
        await this.receiveAndInvoke();
      } catch (error) {
        this.log(`[event-source ${index}] receive/delete failed: ${String(error)}`);
        await sleep(200);
      } finally {
        this.busyPollers -= 1;
      }
    }
  }

  private async receiveAndInvoke(): Promise<void> {
    const out = await this.opts.sqs.send(new ReceiveMessageCommand({
      QueueUrl: this.opts.queueUrl,
      MaxNumberOfMessages: this.opts.batchSize ?? 10,
      WaitTimeSeconds: this.opts.waitTimeSeconds ?? 1,
      VisibilityTimeout: this.opts.visibilityTimeoutSeconds,
      MessageSystemAttributeNames: ['All'],
      MessageAttributeNames: ['All'],
    }));
    let messages = out.Messages ?? [];
    if (messages.length === 0) return;
    this.record('receive', messages.map((m) => toSqsRecord(m, this.opts.queueArn, this.opts.region)));
    // SQS FIFO never hands out a group that is in flight; guard anyway, since two batches of one
    // group applied concurrently could reorder it. Such messages simply reappear later.
    const groupOf = (m: Message) => m.Attributes?.MessageGroupId ?? '';
    const clash = messages.filter((m) => this.groupsInFlight.has(groupOf(m)));
    if (clash.length > 0) this.log(`[event-source] ${clash.length} message(s) of a group already in flight left to reappear`);
    messages = messages.filter((m) => !this.groupsInFlight.has(groupOf(m)));
    const groups = new Set(messages.map(groupOf));
    for (const g of groups) this.groupsInFlight.add(g);
    this.inFlight += messages.length;
    // Apply may shorten a failed message's visibility (its backoff) just before returning; a
    // heartbeat after that would undo it, so from then on only the messages still in hand beat.
    let beating = messages;
    const heartbeat = this.startHeartbeat(() => beating);
    const releaseFailed = (failed: ReadonlySet<string>): void => {
      beating = beating.filter((m) => !failed.has(m.MessageId ?? ''));
    };
    // Deleting a message unlocks its group in SQS at once, so our own lock must go before that.
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      clearInterval(heartbeat);
      for (const g of groups) this.groupsInFlight.delete(g);
    };
    try {
      await this.invoke(messages, release, releaseFailed);
    } finally {
      release();
      this.inFlight -= messages.length;
    }
  }

  private startHeartbeat(inHand: () => Message[]): NodeJS.Timeout {
    const everyMs = Math.max(200, (this.opts.visibilityTimeoutSeconds * 1000) / 2);
    const timer = setInterval(() => {
      const messages = inHand();
      if (messages.length === 0) return;
      this.opts.sqs.send(new ChangeMessageVisibilityBatchCommand({
        QueueUrl: this.opts.queueUrl,
        Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: this.opts.visibilityTimeoutSeconds })),
      })).catch((error: unknown) => this.log(`[event-source] visibility heartbeat failed: ${String(error)}`));
    }, everyMs);
    timer.unref();
    return timer;
  }

  /** Invokes the function like Lambda: a timeout or a throw fails the whole batch. */
  private async call(records: SQSRecord[]): Promise<SQSBatchResponse> {
    const timeoutMs = (this.opts.functionTimeoutSeconds ?? 10) * 1000;
    const context = lambdaContext(this.opts.functionName ?? 'ddbrepl-local-apply', this.opts.region, timeoutMs);
    this.counters.applyInvocations += 1;
    let timer: NodeJS.Timeout | undefined;
    const invocation = Promise.resolve().then(() => this.opts.apply({ Records: records }, context));
    try {
      return await Promise.race([
        invocation,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new InvocationTimeout(`apply timed out after ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
    } catch (error) {
      // Keep the group locked until a timed-out invocation really ends: Lambda would have killed it.
      await invocation.catch(() => undefined);
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  private record(type: EventSourceEvent['type'], records: readonly SQSRecord[]): void {
    if (this.opts.onEvent === undefined) return;
    const at = (this.opts.now ?? Date.now)();
    for (const r of records) {
      this.opts.onEvent({ type, messageId: r.messageId, groupId: r.attributes.MessageGroupId ?? '', receiveCount: Number(r.attributes.ApproximateReceiveCount), at });
    }
  }

  private async invoke(messages: Message[], releaseGroups: () => void, releaseFailed: (failed: ReadonlySet<string>) => void): Promise<void> {
    const records = messages.map((m) => toSqsRecord(m, this.opts.queueArn, this.opts.region));
    let failedIds: Set<string>;
    try {
      const response = await this.call(records);
      // Without ReportBatchItemFailures Lambda ignores the response: a returned failure counts as success.
      failedIds = new Set(this.opts.reportBatchItemFailures === false ? [] : (response?.batchItemFailures ?? []).map((f) => f.itemIdentifier));
      const known = new Set(records.map((r) => r.messageId));
      // Lambda treats a failure naming no message of the batch as a failure of the whole batch.
      if ([...failedIds].some((id) => !known.has(id))) {
        this.log('[event-source] batchItemFailures names an unknown message: whole batch failed');
        failedIds = known;
      }
    } catch (error) {
      this.counters.applyErrors += 1;
      this.counters.applyFailures += records.length;
      this.log(`[event-source] apply threw, the batch of ${records.length} will reappear: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`);
      this.record('fail', records);
      return;
    }
    this.counters.applyFailures += failedIds.size;
    releaseFailed(failedIds);
    this.record('fail', records.filter((r) => failedIds.has(r.messageId)));
    const succeeded = records.filter((r) => !failedIds.has(r.messageId));
    if (succeeded.length > 0 && this.opts.faults.fires('duplicateDelivery')) {
      // SQS is at-least-once: the same batch again, before its deletion, while its groups are still locked.
      this.counters.duplicateDeliveries += 1;
      this.log(`[event-source] delivering a batch of ${succeeded.length} again (duplicate-delivery fault)`);
      try {
        await this.call(succeeded);
      } catch (error) {
        this.log(`[event-source] duplicate delivery threw: ${String(error)}`);
      }
    }
    releaseGroups();
    await this.deleteAll(succeeded);
    this.record('delete', succeeded);
    this.counters.messagesApplied += succeeded.length;
    for (const record of succeeded) this.opts.onApplied?.(record);
  }

  private async deleteAll(records: SQSRecord[]): Promise<void> {
    let pending = records.map((r, i) => ({ Id: String(i), ReceiptHandle: r.receiptHandle }));
    for (let attempt = 1; pending.length > 0; attempt += 1) {
      const out = await this.opts.sqs.send(new DeleteMessageBatchCommand({ QueueUrl: this.opts.queueUrl, Entries: pending }));
      const failed = new Set((out.Failed ?? []).map((f) => f.Id));
      if (failed.size === 0) return;
      if (attempt >= 5) {
        // The messages will be delivered again: harmless (the apply is idempotent), so say so and go on.
        this.log(`[event-source] ${failed.size} message(s) could not be deleted and will be delivered again`);
        return;
      }
      pending = pending.filter((p) => failed.has(p.Id));
      await sleep(100 * attempt);
    }
  }
}
