import { ChangeMessageVisibilityBatchCommand, GetQueueUrlCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';
import { exponentialBackoff } from './backoff';
import { errorRef, type StructuredLogger } from './logger';

/**
 * A message apply reports failed would reappear only after the queue's visibility timeout (six
 * apply timeouts, 360 s by default), and being FIFO its whole group waits that long. So before
 * returning its failures apply shortens each failed message's visibility to a backoff that grows
 * with the message's ApproximateReceiveCount: a throttle costs seconds, a persistent failure still
 * reaches the DLQ after maxReceiveCount receives (docs/aws-contracts.md, "Visibility backoff").
 */
export interface VisibilityBackoff {
  /** Backoff after the first failed receive. @default 2 */
  baseSeconds: number;
  /**
   * Upper bound. Keep it at or below the queue's visibility timeout: a longer one would slow
   * retries down instead of speeding them up. @default 60
   */
  maxSeconds: number;
}

export const DEFAULT_VISIBILITY_BACKOFF: VisibilityBackoff = { baseSeconds: 2, maxSeconds: 60 };

/** base · 2^(receiveCount − 1), capped: 2 s, 4 s, 8 s, 16 s, 32 s, 60 s, 60 s … with the defaults. */
export function visibilityBackoffSeconds(receiveCount: number, backoff: VisibilityBackoff = DEFAULT_VISIBILITY_BACKOFF): number {
  // No jitter: SQS applies the visibility per message, and the receive count already spreads them.
  return Math.round(exponentialBackoff(receiveCount, { base: backoff.baseSeconds, max: backoff.maxSeconds }));
}

/**
 * The queue's URL, asked of SQS once per queue ARN (`arn:<partition>:sqs:<region>:<account>:<name>`)
 * and kept for the life of the execution environment: URL forms differ between endpoints (local
 * emulators included), and the apply role may call GetQueueUrl on its queue already.
 */
const queueUrls = new Map<string, Promise<string>>();

export function queueUrlFor(sqs: SQSClient, queueArn: string): Promise<string> {
  let url = queueUrls.get(queueArn);
  if (url === undefined) {
    const parts = queueArn.split(':');
    if (parts.length !== 6 || parts[2] !== 'sqs') return Promise.reject(new Error(`not an SQS queue ARN: ${queueArn}`));
    url = sqs.send(new GetQueueUrlCommand({ QueueName: parts[5], QueueOwnerAWSAccountId: parts[4] })).then((out) => {
      if (out.QueueUrl === undefined) throw new Error(`GetQueueUrl returned no URL for ${queueArn}`);
      return out.QueueUrl;
    });
    // A failed lookup is not kept: the next failed batch asks again.
    url.catch(() => queueUrls.delete(queueArn));
    queueUrls.set(queueArn, url);
  }
  return url;
}

/**
 * Shortens the visibility of `failed` messages per their receive counts. Never throws: if SQS
 * refuses, the messages reappear after the full visibility timeout as before — slower, nothing lost
 * — so the failure is logged and the caller still reports the messages failed.
 */
export async function shortenVisibility(sqs: SQSClient, failed: readonly SQSRecord[], logger: StructuredLogger, backoff: VisibilityBackoff = DEFAULT_VISIBILITY_BACKOFF): Promise<void> {
  const byQueue = new Map<string, SQSRecord[]>();
  for (const record of failed) byQueue.set(record.eventSourceARN, [...(byQueue.get(record.eventSourceARN) ?? []), record]);
  for (const [queueArn, records] of byQueue) {
    // SQS takes at most 10 entries per batch call (a FIFO event source batch holds at most 10).
    for (let i = 0; i < records.length; i += 10) {
      const chunk = records.slice(i, i + 10);
      try {
        const out = await sqs.send(new ChangeMessageVisibilityBatchCommand({
          QueueUrl: await queueUrlFor(sqs, queueArn),
          Entries: chunk.map((record, j) => ({
            Id: String(j),
            ReceiptHandle: record.receiptHandle,
            VisibilityTimeout: visibilityBackoffSeconds(Number(record.attributes.ApproximateReceiveCount), backoff),
          })),
        }));
        for (const entry of out.Failed ?? []) {
          logger.warn('visibility backoff not set; the message reappears after the visibility timeout', { messageId: chunk[Number(entry.Id)]?.messageId, code: entry.Code });
        }
      } catch (error) {
        logger.warn('visibility backoff not set; the messages reappear after the visibility timeout', { messages: chunk.map((r) => r.messageId), ...errorRef(error) });
      }
    }
  }
}
