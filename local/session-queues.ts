import { GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { sleep } from '../handlers/core/backoff';

/**
 * Queue sampling of a local session (docs/architecture.md#local-mode): stats() is synchronous, so
 * the queues' depths are sampled in the background, every SAMPLE_EVERY_MS, and on demand (drain).
 */
const SAMPLE_EVERY_MS = 250;

export interface SampledQueues {
  queueUrl: string;
  deadLetterQueueUrl: string;
}

export interface QueueCounts {
  /** Messages in the main queues not being handled right now (visible, delayed, or waiting to reappear after a failure). */
  waiting: number;
  deadLettered: number;
}

async function queueAttributes(sqs: SQSClient, queueUrl: string): Promise<{ visible: number; notVisible: number; delayed: number }> {
  const out = await sqs.send(new GetQueueAttributesCommand({
    QueueUrl: queueUrl,
    AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'],
  }));
  const n = (name: string) => Number(out.Attributes?.[name as keyof typeof out.Attributes] ?? '0');
  return { visible: n('ApproximateNumberOfMessages'), notVisible: n('ApproximateNumberOfMessagesNotVisible'), delayed: n('ApproximateNumberOfMessagesDelayed') };
}

export class QueueSampler {
  private counts: QueueCounts = { waiting: 0, deadLettered: 0 };
  private sampling = false;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly sqs: SQSClient,
    private readonly queues: readonly SampledQueues[],
    /** Messages the event sources hold right now (they count as in flight, not waiting). */
    private readonly inFlight: () => number,
    private readonly log: (line: string) => void,
  ) {}

  /** The last sample's counts. */
  get latest(): QueueCounts {
    return this.counts;
  }

  /** Samples now; `total` counts every message of the main queues, in flight included. */
  async sample(): Promise<{ total: number }> {
    const counts = await Promise.all(this.queues.map(async (q) => {
      const [main, dlq] = await Promise.all([queueAttributes(this.sqs, q.queueUrl), queueAttributes(this.sqs, q.deadLetterQueueUrl)]);
      return { total: main.visible + main.notVisible + main.delayed, deadLettered: dlq.visible + dlq.notVisible + dlq.delayed };
    }));
    const total = counts.reduce((sum, c) => sum + c.total, 0);
    this.counts = { waiting: Math.max(0, total - this.inFlight()), deadLettered: counts.reduce((sum, c) => sum + c.deadLettered, 0) };
    return { total };
  }

  start(): void {
    if (this.loop !== undefined) return;
    this.sampling = true;
    this.loop = (async () => {
      while (this.sampling) {
        await this.sample().catch((error: unknown) => this.log(`[session] queue sampling failed: ${String(error)}`));
        await sleep(SAMPLE_EVERY_MS);
      }
    })();
  }

  async stop(): Promise<void> {
    this.sampling = false;
    await this.loop;
  }
}
