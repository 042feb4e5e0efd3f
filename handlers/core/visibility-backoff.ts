import { ChangeMessageVisibilityBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';
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
  const attempt = Number.isSafeInteger(receiveCount) && receiveCount > 1 ? receiveCount : 1;
  // Compare exponents before computing, so a huge receive count cannot overflow to Infinity.
  if (attempt - 1 >= Math.log2(backoff.maxSeconds / backoff.baseSeconds)) return backoff.maxSeconds;
  return Math.min(backoff.maxSeconds, Math.round(backoff.baseSeconds * 2 ** (attempt - 1)));
}

/**
 * The queue URL for a queue ARN (`arn:<partition>:sqs:<region>:<account>:<name>`): on the endpoint
 * the SDK is pointed at (AWS_ENDPOINT_URL_SQS, as in local mode) or the Region's SQS endpoint.
 */
export function queueUrlFromArn(arn: string, endpoint: string | undefined = process.env.AWS_ENDPOINT_URL_SQS): string {
  const parts = arn.split(':');
  if (parts.length !== 6 || parts[2] !== 'sqs') throw new Error(`not an SQS queue ARN: ${arn}`);
  const [, , , region, account, name] = parts as [string, string, string, string, string, string];
  const base = endpoint !== undefined && endpoint !== '' ? endpoint.replace(/\/+$/, '') : `https://sqs.${region}.amazonaws.com${region.startsWith('cn-') ? '.cn' : ''}`;
  return `${base}/${account}/${name}`;
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
          QueueUrl: queueUrlFromArn(queueArn),
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
