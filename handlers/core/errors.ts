/**
 * The error class tree. Every error the core throws is a ReplicationError with a `cause` where one
 * exists; messages name keys by groupId / eventId only, never attribute values.
 */
export class ReplicationError extends Error {
  override readonly name: string = 'ReplicationError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** A message body that is not a valid envelope of a known version. Fails that message (→ DLQ), never applied. */
export class InvalidEnvelopeError extends ReplicationError {
  override readonly name: string = 'InvalidEnvelopeError';
}

/** An envelope whose `v` this consumer does not know. */
export class UnknownEnvelopeVersionError extends InvalidEnvelopeError {
  override readonly name: string = 'UnknownEnvelopeVersionError';
}

/** A stream record the enrichment cannot turn into an envelope. Thrown, so the pipe retries / dead-letters the batch. */
export class UnencodableRecordError extends ReplicationError {
  override readonly name: string = 'UnencodableRecordError';
}

/** Writes that did not succeed within the time budget (retries exhausted or budget spent). */
export class WriteFailedError extends ReplicationError {
  override readonly name: string = 'WriteFailedError';
}

/** Envelopes an attached target's queue still refused after retries. Thrown from enrichment, so the pipe retries the whole batch. */
export class AttachedDeliveryError extends ReplicationError {
  override readonly name: string = 'AttachedDeliveryError';
}

/** A required environment variable is missing or malformed: a deployment error, fails at cold start. */
export class ConfigurationError extends ReplicationError {
  override readonly name: string = 'ConfigurationError';
}

/** A RESYNC could not read the item's current state from the source table. Fails the message; it is retried. */
export class ResyncReadError extends ReplicationError {
  override readonly name: string = 'ResyncReadError';
}

/** A thrown value for a message: an Error's message, anything else as String() renders it. */
export function messageOfThrown(value: unknown): string {
  return value instanceof Error ? value.message : String(value);
}
