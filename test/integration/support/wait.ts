import { GetQueueAttributesCommand, SetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Waits for an event, not for a time: polls `condition` until it holds. `timeoutMs` is only a
 * fail-safe so a broken run ends with a clear message instead of the jest timeout; a test must
 * never depend on it (make it generous). `what` may be a function, to say what was last seen.
 */
export async function waitFor(what: string | (() => string), condition: () => boolean | Promise<boolean>, opts: { timeoutMs?: number; intervalMs?: number } = {}): Promise<void> {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`gave up after ${timeoutMs} ms waiting for ${typeof what === 'string' ? what : what()}`);
    await sleep(opts.intervalMs ?? 20);
  }
}

/**
 * Changes a queue's redrive `maxReceiveCount` (fauxqs reads it at every receive, as SQS does). The
 * poison-message tests raise it so that the poison cannot reach the DLQ before the other groups
 * are applied, however slow the machine, and then lower it to let it go.
 */
export async function setMaxReceiveCount(sqs: SQSClient, queueUrl: string, maxReceiveCount: number): Promise<void> {
  const out = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['RedrivePolicy'] }));
  const policy = JSON.parse(out.Attributes?.RedrivePolicy ?? 'null') as { deadLetterTargetArn: string } | null;
  if (policy === null) throw new Error(`${queueUrl} has no redrive policy`);
  await sqs.send(new SetQueueAttributesCommand({ QueueUrl: queueUrl, Attributes: { RedrivePolicy: JSON.stringify({ ...policy, maxReceiveCount }) } }));
}

