import { join } from 'node:path';
import { lambdaContext } from '../../local/event-source-emulator';
import { startHandlerWorker, WorkerApplyError, type HandlerWorker } from '../../local/handler-worker';
import type { EchoEvent } from './support/echo-handler';

// The handler worker (local/handler-worker.ts): a TypeScript handler in a thread of its own, with
// its own environment read at load, as a separate Lambda function has.
const ECHO = join(__dirname, 'support', 'echo-handler.ts');
const workers: HandlerWorker<EchoEvent, Record<string, unknown>>[] = [];

async function start(greeting: string): Promise<HandlerWorker<EchoEvent, Record<string, unknown>>> {
  const worker = await startHandlerWorker<EchoEvent, Record<string, unknown>>({ handlerModule: ECHO, env: { ECHO_GREETING: greeting } });
  workers.push(worker);
  return worker;
}

afterAll(async () => {
  await Promise.all(workers.map((w) => w.stop()));
});

it('runs each handler with its own environment, and passes the event and the context through', async () => {
  const [a, b] = await Promise.all([start('from a'), start('from b')]);
  const context = lambdaContext('echo-fn', 'eu-west-1', 60_000);
  const remainingBefore = context.getRemainingTimeInMillis();
  const [fromA, fromB] = await Promise.all([a.invoke({ value: { n: '1.50' } }, context), b.invoke({ value: [1, 'two'] }, context)]);
  expect(fromA).toMatchObject({ greeting: 'from a', value: { n: '1.50' }, functionName: 'echo-fn' });
  expect(fromB).toMatchObject({ greeting: 'from b', value: [1, 'two'], functionName: 'echo-fn' });
  // The remaining time counts down from the caller's deadline, not from a fresh timeout: it can only
  // have shrunk since the caller read it (an ordering, not a duration).
  expect(fromA.remainingMs).toBeLessThanOrEqual(remainingBefore);
});

it('rejects with the handler error\'s name and message, and keeps serving', async () => {
  const worker = await start('x');
  const context = lambdaContext('echo-fn', 'eu-west-1', 10_000);
  const failure = await worker.invoke({ fail: { name: 'ThrottlingException', message: 'slow down' } }, context).catch((error: unknown) => error);
  expect(failure).toBeInstanceOf(WorkerApplyError);
  expect(failure).toMatchObject({ name: 'ThrottlingException', message: 'slow down' });
  await expect(worker.invoke({ unserializable: true }, context)).rejects.toBeInstanceOf(WorkerApplyError);
  await expect(worker.invoke({ value: 'still here' }, context)).resolves.toMatchObject({ value: 'still here' });
});

it('fails to start, rather than hang, when the handler module cannot load', async () => {
  await expect(startHandlerWorker({ handlerModule: join(__dirname, 'support', 'no-such-handler.ts'), env: {} })).rejects.toThrow(/no-such-handler/);
});

it('rejects calls after it has stopped', async () => {
  const worker = await startHandlerWorker<EchoEvent, unknown>({ handlerModule: ECHO, env: {} });
  await worker.stop();
  await expect(worker.invoke({ value: 1 }, lambdaContext('echo-fn', 'eu-west-1', 1_000))).rejects.toThrow();
});
