import { ChangeMessageVisibilityCommand, DeleteMessageCommand, ReceiveMessageCommand, SendMessageCommand, type Message } from '@aws-sdk/client-sqs';
import { decodeEnvelope } from '../../handlers/core/envelope';
import { awsCall } from '../aws/errors';
import { CliError, EXIT } from '../errors';
import type { OperatorTarget } from '../targets/types';
import { messageOf, queueDepth, replayEventId, resyncEnvelope, totalDepth } from './queues';

/**
 * DLQ replay (docs/architecture.md#operator-cli): every DLQ message becomes a RESYNC of its key in the main FIFO queue,
 * never a redrive of its old image — the apply re-reads the source, so a replay cannot regress an
 * item that has moved on since.
 *
 * Idempotent when interrupted: per message it sends first, then deletes from the DLQ. The RESYNC's
 * dedup id is derived from the DLQ message id, so a re-run within SQS's 5-minute deduplication
 * interval sends nothing twice; after that a repeated RESYNC is still harmless (it writes the
 * source's current state again). Messages are received with a visibility timeout, so a crashed run
 * leaves them in the DLQ, visible again once it expires.
 *
 * An undecodable message is kept in the DLQ (released at the end of the run) and listed by message
 * id. Later messages of its FIFO group stay behind it until it is removed: they count as remaining.
 * For the same reason a dry run, which holds every message it reads, sees only the first message of
 * each FIFO group (the result's dlqAtStart says how many there are in all).
 */
export interface ReplayOptions {
  readonly target: Pick<OperatorTarget, 'sqs' | 'queueUrl' | 'deadLetterQueueUrl'>;
  /** Receive and decode, send nothing, delete nothing (every message is released at the end). */
  readonly dryRun?: boolean;
  /** At most this many DLQ messages (replayed or undecodable). */
  readonly max?: number;
  /** Stops after the current message. */
  readonly signal?: AbortSignal;
  /** How long a received message stays hidden from other consumers. @default 120 */
  readonly visibilityTimeoutSeconds?: number;
  /** Long-poll wait of each receive; an empty long poll ends the run. @default 2 */
  readonly waitTimeSeconds?: number;
  readonly onProgress?: (progress: ReplayProgress) => void;
}

export interface ReplayProgress {
  readonly dlqAtStart: number;
  readonly processed: number;
  readonly replayed: number;
  readonly undecodable: number;
}

export interface ReplayedMessage {
  readonly messageId: string;
  readonly groupId: string;
  /** The RESYNC's eventId (dedup id). */
  readonly eventId: string;
  /** What had failed: the dead-lettered envelope's op and origin. */
  readonly failedOp: string;
  readonly failedOrigin: string;
}

export interface ReplayResult {
  readonly dryRun: boolean;
  readonly dlqAtStart: number;
  /** RESYNCs sent (dry run: that would be sent). */
  readonly replayed: number;
  readonly undecodable: readonly { readonly messageId: string; readonly reason: string }[];
  /** DLQ depth at the end (approximate, as SQS counts). */
  readonly remaining: number;
  readonly interrupted: boolean;
  /** Dry run only: the messages that would be replayed (ids only, never keys or values). */
  readonly plan: readonly ReplayedMessage[];
  /** Messages that could not be made visible again early (they reappear when their visibility timeout ends). */
  readonly notReleased: number;
}

export async function runReplay(opts: ReplayOptions): Promise<ReplayResult> {
  const { sqs, queueUrl, deadLetterQueueUrl: dlqUrl } = opts.target;
  const visibility = opts.visibilityTimeoutSeconds ?? 120;
  const dlqAtStart = totalDepth(await queueDepth(sqs, dlqUrl));
  const dlq = `DLQ ${dlqUrl}`;
  /** Received but kept (undecodable, or everything in a dry run): messageId → latest receipt handle. */
  const held = new Map<string, string>();
  /** Received, not yet deleted nor held: messageId → receipt handle. */
  const unfinished = new Map<string, string>();
  const undecodable: { messageId: string; reason: string }[] = [];
  const plan: ReplayedMessage[] = [];
  let replayed = 0;
  let processed = 0;
  let interrupted = false;
  // A function, not a narrowed property read: the signal changes while we await.
  const aborted = (): boolean => opts.signal?.aborted === true;
  const report = (): void => opts.onProgress?.({ dlqAtStart, processed, replayed, undecodable: undecodable.length });

  const replayOne = async (message: Message): Promise<void> => {
    const messageId = message.MessageId ?? '';
    const receipt = message.ReceiptHandle ?? '';
    let failed;
    try {
      failed = decodeEnvelope(message.Body ?? '');
    } catch (error) {
      undecodable.push({ messageId, reason: error instanceof Error ? error.message : String(error) });
      held.set(messageId, receipt);
      return;
    }
    const envelope = resyncEnvelope({ table: failed.table, keys: failed.keys, groupId: failed.groupId, eventId: replayEventId(messageId), origin: 'replay' });
    if (opts.dryRun === true) {
      plan.push({ messageId, groupId: envelope.groupId, eventId: envelope.eventId, failedOp: failed.op, failedOrigin: failed.origin });
      held.set(messageId, receipt);
      replayed += 1;
      return;
    }
    // Send first, then delete: an interruption in between leaves the message in the DLQ, and its
    // second RESYNC carries the same dedup id.
    await awsCall('sqs:SendMessage', `queue ${queueUrl}`, () => sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, ...messageOf(envelope) })));
    await awsCall('sqs:DeleteMessage', dlq, () => sqs.send(new DeleteMessageCommand({ QueueUrl: dlqUrl, ReceiptHandle: receipt })));
    replayed += 1;
  };

  try {
    report();
    receiving: while (opts.max === undefined || processed < opts.max) {
      if (aborted()) {
        interrupted = true;
        break;
      }
      const wanted = Math.min(10, opts.max === undefined ? 10 : opts.max - processed);
      const out = await awsCall('sqs:ReceiveMessage', dlq, () => sqs.send(new ReceiveMessageCommand({
        QueueUrl: dlqUrl, MaxNumberOfMessages: wanted, VisibilityTimeout: visibility, WaitTimeSeconds: opts.waitTimeSeconds ?? 2,
      })));
      const messages = out.Messages ?? [];
      if (messages.length === 0) break;
      // Until deleted, every received message is ours to give back if the run fails or stops.
      for (const message of messages) if (!held.has(message.MessageId ?? '')) unfinished.set(message.MessageId ?? '', message.ReceiptHandle ?? '');
      for (const message of messages) {
        const id = message.MessageId ?? '';
        if (held.has(id)) {
          // Its visibility timeout ran out during this run: we have been round the whole DLQ.
          held.set(id, message.ReceiptHandle ?? '');
          break receiving;
        }
        if (aborted() || (opts.max !== undefined && processed >= opts.max)) {
          interrupted ||= aborted(); // received after the stop: given back untouched below
          continue;
        }
        await replayOne(message);
        unfinished.delete(id);
        processed += 1;
        report();
      }
    }
  } catch (error) {
    const notReleased = await release(new Map([...held, ...unfinished]));
    const done = `${replayed} replayed before the failure${notReleased > 0 ? `; ${notReleased} messages stay hidden until their visibility timeout (${visibility} s) ends` : ''}; running replay again is safe: a RESYNC sent again within 5 minutes is deduplicated, and a later one rewrites the current item`;
    if (error instanceof CliError) throw new CliError(`${error.message} (${done})`, error.exitCode, { cause: error });
    throw new CliError(`replay failed: ${error instanceof Error ? error.message : String(error)} (${done})`, EXIT.failure, { cause: error });
  }
  const notReleased = await release(new Map([...held, ...unfinished]));
  report();
  const remaining = totalDepth(await queueDepth(sqs, dlqUrl));
  return { dryRun: opts.dryRun === true, dlqAtStart, replayed, undecodable, remaining, interrupted, plan, notReleased };

  /** Makes kept messages visible again now rather than when their timeout ends; returns how many could not be. */
  async function release(messages: Map<string, string>): Promise<number> {
    let failures = 0;
    for (const receipt of messages.values()) {
      try {
        await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: dlqUrl, ReceiptHandle: receipt, VisibilityTimeout: 0 }));
      } catch {
        // Not an error for the replay: the message reappears on its own when its timeout ends; counted and reported.
        failures += 1;
      }
    }
    messages.clear();
    return failures;
  }
}
