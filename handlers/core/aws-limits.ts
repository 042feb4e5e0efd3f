/**
 * AWS limits the handlers and the local emulators must respect, in one place (docs/aws-contracts.md,
 * "Local runtime"). Each value names the documentation it comes from.
 */

/**
 * SendMessageBatch: at most 10 entries; "the maximum allowed individual message size and the maximum
 * total payload size (the sum of the individual lengths of all of the batched messages) are both
 * 1 MiB (1,048,576 bytes)" (SQS API reference, SendMessageBatch,
 * https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessageBatch.html).
 */
export const SQS_LIMITS = {
  maxEntriesPerBatch: 10,
  maxBatchPayloadBytes: 1_048_576,
  /** A queue's MaximumMessageSize when the template sets none (and its upper bound). */
  maxMessageBytes: 1_048_576,
  /** MessageGroupId: "The maximum length of MessageGroupId is 128 characters" (SendMessage API reference). */
  maxMessageGroupIdLength: 128,
  /** A Lambda event source on a FIFO queue takes batches of at most 10 (CreateEventSourceMapping, BatchSize). */
  maxFifoEventSourceBatchSize: 10,
} as const;

/**
 * A synchronous Lambda invocation (how Pipes calls the enrichment) returns at most 6 MB ("For
 * synchronous invocations, the maximum payload size is 6 MB", Lambda API reference, Invoke,
 * https://docs.aws.amazon.com/lambda/latest/dg/API_Invoke.html). The docs do not say whether MB
 * means 10^6 or 2^20 here; 6,000,000 is the safe reading under either.
 */
export const LAMBDA_MAX_SYNC_RESPONSE_BYTES = 6_000_000;

/**
 * An SQS target accepts at most 10 messages per pipe batch (EventBridge Pipes, "Batching and
 * concurrency": a pipe's batch size may not exceed what its target supports).
 */
export const PIPES_SQS_TARGET_MAX_BATCH_SIZE = 10;

/**
 * Upper bound of a keys-only RESYNC envelope's message body: key values (partition ≤ 2048 bytes, sort
 * ≤ 1024), their names (≤ 255 bytes each) and the table name (≤ 255), each at most 6 bytes of JSON per
 * source byte (`\u001f`), plus the fixed fields. The real bound is ~24 KB; this leaves headroom.
 */
export const MAX_RESYNC_ENVELOPE_BYTES = 32_768;

/** UTF-8 size of an SQS message body, as SQS counts it against its limits (no message attributes are used). */
export function messageBodyBytes(body: string): number {
  return Buffer.byteLength(body, 'utf8');
}

/**
 * Why a RESYNC threshold cannot work with these settings, or undefined when every envelope fits. The
 * largest envelope is the threshold itself or a RESYNC of the largest key (its JSON size). As an SQS
 * message body it is written by sqsSafeJson, whose surrogate escapes make it at most 3 × that size:
 * it must fit in one message of the queue and, alone, in one SendMessageBatch. The enrichment's
 * response is plain JSON: a full pipe batch of the largest envelopes must fit in it.
 */
export function envelopeFitProblem(opts: { resyncThresholdBytes: number; pipeBatchSize: number; maxMessageBytes?: number }): string | undefined {
  const largestJson = Math.max(opts.resyncThresholdBytes, MAX_RESYNC_ENVELOPE_BYTES);
  const largestBody = 3 * largestJson;
  const perMessage = Math.min(opts.maxMessageBytes ?? SQS_LIMITS.maxMessageBytes, SQS_LIMITS.maxBatchPayloadBytes);
  if (largestBody > perMessage) {
    return `an envelope of up to ${largestBody} bytes (3 × ${largestJson}, escaped characters included) would not fit in one SQS message of ${perMessage} bytes; lower resyncThresholdBytes to at most ${Math.floor(perMessage / 3)}`;
  }
  // Each element plus a comma, and the brackets.
  if ((largestJson + 1) * opts.pipeBatchSize + 2 > LAMBDA_MAX_SYNC_RESPONSE_BYTES) {
    return `${opts.pipeBatchSize} envelopes of up to ${largestJson} bytes would exceed the enrichment's ${LAMBDA_MAX_SYNC_RESPONSE_BYTES}-byte response limit; lower resyncThresholdBytes or pipeBatchSize`;
  }
  return undefined;
}
