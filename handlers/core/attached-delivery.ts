import { SendMessageBatchCommand, type SendMessageBatchRequestEntry, type SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBRecord } from 'aws-lambda';
import * as z from 'zod';
import type { ChangeEnvelopeV1 } from '../../schemas/change-envelope.v1';
import { targetFilterSchema, targetRedactionSchema } from '../../schemas/replication-config';
import { coalesceChanges } from './coalesce';
import { encodeEnvelope, envelopeFromStreamRecord, type EnvelopeContext } from './envelope';
import { parseJsonEnv } from './env';
import { messageBodyBytes, SQS_LIMITS } from './aws-limits';
import { AttachedDeliveryError } from './errors';
import type { KeySchema } from './key-schema';
import { redactRecord } from './redaction';
import { compileTargetPolicy, type TargetPolicy } from './target-policy';
import { backoffDelay, sleep } from './backoff';

/**
 * Fan-out (docs/architecture.md#fan-out, docs/fan-out.md): a pipe's enrichment also delivers the envelopes of the
 * targets attached to that pipe, each with its own filter and redaction, before returning the
 * owner's own. Delivery is what the pipe's SQS target would do: MessageGroupId = groupId,
 * MessageDeduplicationId = eventId — so a retried enrichment batch cannot duplicate a message
 * within SQS's 5-minute deduplication interval.
 */
export const attachedTargetSchema = z.strictObject({
  targetName: z.string().min(1),
  queueUrl: z.string().min(1),
  filter: targetFilterSchema,
  redaction: targetRedactionSchema.optional(),
  /** The attached target's own RESYNC threshold. @default the owner's RESYNC_THRESHOLD_BYTES */
  resyncThresholdBytes: z.number().int().positive().optional(),
});
export type AttachedTarget = z.infer<typeof attachedTargetSchema>;
// Moved to target-policy.ts (one place for every path that writes to a target); re-exported for existing importers.
export { compileTargetPolicy, type TargetPolicy };
export const attachedTargetsSchema = z.array(attachedTargetSchema);

/**
 * Stream records → one target's envelopes, in order: filtered, redacted (PUT images only; the size
 * threshold applies to the redacted image), and a record leaving the target's view becomes a DELETE.
 * Only the last change per item (full key) is kept, the rule apply coalesces by: when Pipes retries
 * the part of a batch its target did not accept, a later change of an item could otherwise land
 * before an earlier one (docs/aws-contracts.md). Every change is a full image, a delete or a RESYNC,
 * so the last one alone decides the item's state.
 */
export function envelopesForTarget(records: readonly DynamoDBRecord[], policy: TargetPolicy, ctx: EnvelopeContext): ChangeEnvelopeV1[] {
  const envelopes: ChangeEnvelopeV1[] = [];
  for (const record of records) {
    const decision = policy.decide(record);
    if (decision === 'skip') continue;
    if (decision === 'leave-view') {
      // The item no longer matches this target's conditions: delete it there, as a user delete.
      const { NewImage: _new, ...stream } = record.dynamodb ?? {};
      envelopes.push(envelopeFromStreamRecord({ ...record, eventName: 'REMOVE', dynamodb: stream }, ctx));
      continue;
    }
    envelopes.push(envelopeFromStreamRecord(redactRecord(record, policy.redact), ctx));
  }
  return coalesceChanges(envelopes).survivors;
}

export interface CompiledAttachedTarget {
  targetName: string;
  queueUrl: string;
  policy: TargetPolicy;
  resyncThresholdBytes?: number;
}

export function parseAttachedTargets(json: string, keySchema: KeySchema, variable: string): CompiledAttachedTarget[] {
  const targets = parseJsonEnv(variable, json, attachedTargetsSchema);
  return targets.map((t) => ({
    targetName: t.targetName,
    queueUrl: t.queueUrl,
    policy: compileTargetPolicy(t, keySchema),
    ...(t.resyncThresholdBytes === undefined ? {} : { resyncThresholdBytes: t.resyncThresholdBytes }),
  }));
}

export interface DeliveryOptions {
  /** Sends of one batch, the first included, before giving up on the entries still refused. @default 5 */
  maxAttempts?: number;
  /** Backoff base: attempt n waits a random time up to base × 2^(n-1) (full jitter, handlers/core/backoff.ts). @default 100 */
  baseDelayMs?: number;
  /** Backoff cap. @default 5000 */
  maxDelayMs?: number;
  /** Seams for tests. @default timers/promises setTimeout, Math.random */
  sleep?: (ms: number) => Promise<unknown>;
  random?: () => number;
}

/** One SendMessageBatch entry per envelope: its body, group and dedup id, as the pipe's SQS target sets them. */
interface PlannedMessage {
  envelope: ChangeEnvelopeV1;
  body: string;
}

/**
 * Splits envelopes into SendMessageBatch requests that SQS accepts — at most 10 entries and at most
 * 1 MiB of bodies in total (SQS_LIMITS) — where no message group appears twice: if SQS refused an
 * entry and accepted a later one of the same group, resending the refused one would put it behind
 * its successor. With one entry per group per request, order holds. An envelope too large for one
 * message fails here, before anything is sent (envelopeFitProblem keeps the RESYNC threshold below that).
 */
export function planBatches(envelopes: readonly ChangeEnvelopeV1[]): ChangeEnvelopeV1[][] {
  return planMessages(envelopes).map((batch) => batch.map((m) => m.envelope));
}

function planMessages(envelopes: readonly ChangeEnvelopeV1[]): PlannedMessage[][] {
  const batches: PlannedMessage[][] = [];
  let current: PlannedMessage[] = [];
  let bytes = 0;
  let groups = new Set<string>();
  for (const envelope of envelopes) {
    const body = encodeEnvelope(envelope);
    const size = messageBodyBytes(body);
    if (size > SQS_LIMITS.maxMessageBytes) {
      throw new AttachedDeliveryError(`envelope ${envelope.eventId} is ${size} bytes as an SQS message, over the ${SQS_LIMITS.maxMessageBytes}-byte limit; lower resyncThresholdBytes`);
    }
    if (current.length === SQS_LIMITS.maxEntriesPerBatch || bytes + size > SQS_LIMITS.maxBatchPayloadBytes || groups.has(envelope.groupId)) {
      batches.push(current);
      current = [];
      bytes = 0;
      groups = new Set();
    }
    current.push({ envelope, body });
    bytes += size;
    groups.add(envelope.groupId);
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

/** Sends one queue's envelopes in order; retries refused entries with backoff; throws if SQS still refuses. */
export async function sendToQueue(sqs: SQSClient, queueUrl: string, targetName: string, envelopes: readonly ChangeEnvelopeV1[], opts: DeliveryOptions = {}): Promise<void> {
  const maxAttempts = opts.maxAttempts ?? 5;
  const backoff = { baseMs: opts.baseDelayMs ?? 100, maxMs: opts.maxDelayMs ?? 5000, random: opts.random ?? Math.random };
  const wait = opts.sleep ?? sleep;
  for (const batch of planMessages(envelopes)) {
    let entries: SendMessageBatchRequestEntry[] = batch.map((m, i) => ({
      Id: String(i),
      MessageBody: m.body,
      MessageGroupId: m.envelope.groupId,
      MessageDeduplicationId: m.envelope.eventId,
    }));
    for (let attempt = 1; ; attempt += 1) {
      let out;
      try {
        out = await sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
      } catch (cause) {
        // The SDK already retried throttling and network errors; the pipe retries the whole batch.
        throw new AttachedDeliveryError(`delivery to attached target ${targetName} failed: SendMessageBatch threw`, { cause });
      }
      const failed = out.Failed ?? [];
      if (failed.length === 0) break;
      const reasons = [...new Set(failed.map((f) => `${f.Code ?? 'unknown'}${f.SenderFault === true ? ' (sender fault)' : ''}`))].join(', ');
      // A sender fault (message too large, invalid content) fails the same way on every retry.
      if (attempt >= maxAttempts || failed.some((f) => f.SenderFault === true)) {
        const ids = new Set(failed.map((f) => f.Id));
        const eventIds = entries.filter((e) => ids.has(e.Id)).map((e) => e.MessageDeduplicationId).join(', ');
        throw new AttachedDeliveryError(`delivery to attached target ${targetName} failed after ${attempt} attempt(s): SQS refused ${failed.length} of ${entries.length} message(s) (${reasons}); eventIds ${eventIds}`);
      }
      const failedIds = new Set(failed.map((f) => f.Id));
      entries = entries.filter((e) => failedIds.has(e.Id));
      await wait(backoffDelay(attempt, backoff));
    }
  }
}

/** Every attached target's envelopes to its queue, queues in parallel (they are independent). Returns counts by target. */
export async function deliverToAttachedTargets(
  records: readonly DynamoDBRecord[],
  targets: readonly CompiledAttachedTarget[],
  deps: { sqs: SQSClient; ctx: EnvelopeContext; options?: DeliveryOptions },
): Promise<Record<string, number>> {
  // Encode everything first: a record that cannot be encoded fails the batch before anything is sent.
  const plans = targets.map((t) => ({
    target: t,
    envelopes: envelopesForTarget(records, t.policy, { ...deps.ctx, resyncThresholdBytes: t.resyncThresholdBytes ?? deps.ctx.resyncThresholdBytes }),
  }));
  const results = await Promise.allSettled(plans.map((p) => sendToQueue(deps.sqs, p.target.queueUrl, p.target.targetName, p.envelopes, deps.options)));
  const failures = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
  if (failures.length === 1) throw failures[0];
  if (failures.length > 1) {
    throw new AttachedDeliveryError(`delivery failed for ${failures.length} attached targets: ${failures.map((f) => (f instanceof Error ? f.message : String(f))).join('; ')}`, { cause: failures[0] });
  }
  return Object.fromEntries(plans.map((p) => [p.target.targetName, p.envelopes.length]));
}
