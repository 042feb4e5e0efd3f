import type { SendMessageBatchRequestEntry } from '@aws-sdk/client-sqs';
import {
  LAMBDA_MAX_SYNC_RESPONSE_BYTES, messageBodyBytes, PIPES_SQS_TARGET_MAX_BATCH_SIZE, SQS_LIMITS,
} from '../handlers/core/aws-limits';
import { EmulatorError } from './errors';

/**
 * The emulators refuse what AWS refuses, with the error name AWS uses (docs/aws-contracts.md, "Local
 * runtime"), so a definition or a payload that would fail on AWS fails locally too instead of passing.
 */
export class AwsRefusal extends EmulatorError {
  /** The AWS error code, e.g. `BatchRequestTooLong`. */
  override readonly name: string;
  constructor(code: string, message: string) {
    super(`${code}: ${message}`);
    this.name = code;
  }
}

/** CreatePipe: a batch size larger than the SQS target accepts is refused ("Batching and concurrency", Pipes user guide). */
export function checkPipeBatchSize(pipeName: string, batchSize: number): void {
  if (batchSize > PIPES_SQS_TARGET_MAX_BATCH_SIZE) {
    throw new AwsRefusal('ValidationException', `pipe ${pipeName}: BatchSize ${batchSize} is larger than its SQS target supports (${PIPES_SQS_TARGET_MAX_BATCH_SIZE})`);
  }
}

/** A synchronous Lambda invocation (the enrichment) whose response is over the limit fails as a function error of this type. */
export function checkEnrichmentResponse(functionName: string, response: unknown): void {
  const bytes = Buffer.byteLength(JSON.stringify(response) ?? '', 'utf8');
  if (bytes > LAMBDA_MAX_SYNC_RESPONSE_BYTES) {
    throw new AwsRefusal('Function.ResponseSizeTooLarge', `${functionName} returned ${bytes} bytes; a synchronous invocation returns at most ${LAMBDA_MAX_SYNC_RESPONSE_BYTES}`);
  }
}

/** SendMessageBatch as SQS validates it (SQS API reference, SendMessageBatch and SendMessage). */
export function checkSendMessageBatch(entries: readonly SendMessageBatchRequestEntry[], queue: { fifo: boolean; maximumMessageBytes: number }): void {
  if (entries.length > SQS_LIMITS.maxEntriesPerBatch) {
    throw new AwsRefusal('TooManyEntriesInBatchRequest', `${entries.length} entries; the maximum is ${SQS_LIMITS.maxEntriesPerBatch}`);
  }
  const sizes = entries.map((e) => messageBodyBytes(e.MessageBody ?? ''));
  const total = sizes.reduce((sum, n) => sum + n, 0);
  if (total > SQS_LIMITS.maxBatchPayloadBytes) {
    throw new AwsRefusal('BatchRequestTooLong', `the messages total ${total} bytes; the maximum is ${SQS_LIMITS.maxBatchPayloadBytes}`);
  }
  entries.forEach((entry, i) => {
    const size = sizes[i];
    if (size > queue.maximumMessageBytes) throw new AwsRefusal('InvalidParameterValue', `entry ${entry.Id}: message must be shorter than ${queue.maximumMessageBytes} bytes (it is ${size})`);
    if (!queue.fifo) return;
    if (entry.MessageGroupId === undefined || entry.MessageGroupId === '') throw new AwsRefusal('MissingParameter', `entry ${entry.Id}: the request must contain the parameter MessageGroupId`);
    if (entry.MessageGroupId.length > SQS_LIMITS.maxMessageGroupIdLength) {
      throw new AwsRefusal('InvalidParameterValue', `entry ${entry.Id}: MessageGroupId is ${entry.MessageGroupId.length} characters; the maximum is ${SQS_LIMITS.maxMessageGroupIdLength}`);
    }
  });
}

/** CreateEventSourceMapping: a FIFO queue source takes a batch size of at most 10. */
export function checkEventSourceBatchSize(batchSize: number, fifo: boolean): void {
  if (fifo && batchSize > SQS_LIMITS.maxFifoEventSourceBatchSize) {
    throw new AwsRefusal('InvalidParameterValueException', `BatchSize ${batchSize}: a FIFO queue event source takes at most ${SQS_LIMITS.maxFifoEventSourceBatchSize}`);
  }
}
