import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { CreateQueueCommand, GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { registerCleanup } from './cleanup';
import { EmulatorError } from './errors';
import { freePort, waitUntilAnswering, watchExit } from './net';

/**
 * SQS on `fauxqs` 1.9.2 (docs/architecture.md#emulator-facts: 2.x needs node:sqlite, 1.9.2 runs on Node 20).
 *
 * fauxqs is ESM-only (its package exports only an `import` condition), and this code base is
 * CommonJS under ts-jest, so it runs as a child `node` process. The child exits when its stdin
 * closes — i.e. when this process ends, however abruptly — so it is never orphaned.
 *
 * Known differences from SQS (docs/architecture.md#emulator-facts): a receive returns at most one message per group, and
 * deduplication is queue-wide whatever DeduplicationScope says (harmless: dedup ids are eventIds).
 */
export interface SqsLocal {
  readonly endpoint: string;
  readonly pid: number;
  stop(): Promise<void>;
}

const CHILD_SCRIPT = `
import { startFauxqs } from 'fauxqs';
const server = await startFauxqs({ port: Number(process.env.FAUXQS_CHILD_PORT), logger: false });
process.stdout.write('ready ' + server.address + '\\n');
const stop = () => server.stop().finally(() => process.exit(0));
process.stdin.on('end', stop);
process.stdin.on('error', stop);
process.stdin.resume();
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
`;

export async function startSqsLocal(opts: { port?: number; onLog?: (line: string) => void; startTimeoutMs?: number } = {}): Promise<SqsLocal> {
  const port = opts.port ?? (await freePort());
  const log = opts.onLog ?? (() => undefined);
  const child = spawn(process.execPath, ['--input-type=module', '--no-warnings', '-e', CHILD_SCRIPT], {
    // Resolve the bare specifier `fauxqs` from this package's own node_modules.
    cwd: join(__dirname, '..'),
    env: { ...process.env, FAUXQS_CHILD_PORT: String(port) },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream }).on('line', (line) => log(`[fauxqs] ${line}`));
  }
  const { exited, reason: exitReason } = watchExit(child);
  const unregister = registerCleanup(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      child.stdin.end();
      const killTimer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(killTimer);
      unregister();
    })();
    return stopping;
  };

  const endpoint = `http://127.0.0.1:${port}`;
  try {
    await waitUntilAnswering(`${endpoint}/health`, { timeoutMs: opts.startTimeoutMs ?? 20_000, what: 'fauxqs', alive: exitReason });
  } catch (error) {
    await stop();
    throw error;
  }
  child.unref();
  for (const stream of [child.stdin, child.stdout, child.stderr]) (stream as { unref?: () => void }).unref?.();
  return { endpoint, pid: child.pid ?? -1, stop };
}

export interface ReplicationQueues {
  queueUrl: string;
  queueArn: string;
  deadLetterQueueUrl: string;
  deadLetterQueueArn: string;
}

async function queueArn(sqs: SQSClient, queueUrl: string): Promise<string> {
  const out = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }));
  const arn = out.Attributes?.QueueArn;
  if (arn === undefined) throw new EmulatorError(`queue ${queueUrl} has no QueueArn`);
  return arn;
}

/**
 * The target's FIFO queue and its FIFO DLQ, with the attributes the real stack sets (docs/architecture.md#fifo-queues):
 * explicit dedup ids, high-throughput mode, redrive after `maxReceiveCount` receives.
 */
export async function createReplicationQueues(
  sqs: SQSClient,
  opts: { name: string; maxReceiveCount: number; visibilityTimeoutSeconds: number },
): Promise<ReplicationQueues> {
  const dlq = await sqs.send(new CreateQueueCommand({
    QueueName: `${opts.name}-dlq.fifo`,
    Attributes: { FifoQueue: 'true', ContentBasedDeduplication: 'false', MessageRetentionPeriod: '1209600' },
  }));
  if (dlq.QueueUrl === undefined) throw new EmulatorError('CreateQueue returned no QueueUrl for the DLQ');
  const deadLetterQueueArn = await queueArn(sqs, dlq.QueueUrl);
  const main = await sqs.send(new CreateQueueCommand({
    QueueName: `${opts.name}.fifo`,
    Attributes: {
      FifoQueue: 'true',
      ContentBasedDeduplication: 'false',
      DeduplicationScope: 'messageGroup',
      FifoThroughputLimit: 'perMessageGroupId',
      VisibilityTimeout: String(opts.visibilityTimeoutSeconds),
      MessageRetentionPeriod: '1209600',
      RedrivePolicy: JSON.stringify({ deadLetterTargetArn: deadLetterQueueArn, maxReceiveCount: opts.maxReceiveCount }),
    },
  }));
  if (main.QueueUrl === undefined) throw new EmulatorError('CreateQueue returned no QueueUrl for the queue');
  return { queueUrl: main.QueueUrl, queueArn: await queueArn(sqs, main.QueueUrl), deadLetterQueueUrl: dlq.QueueUrl, deadLetterQueueArn };
}

/** fauxqs rejects characters outside the BMP: see `sqsSafeJson` in handlers/core/envelope.ts. */
export { sqsSafeJson } from '../handlers/core/envelope';

