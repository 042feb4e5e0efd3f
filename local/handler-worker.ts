import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import type { ApplyFn } from './event-source-emulator';
import type { HandlerWorkerData, WorkerCall, WorkerReply } from './handler-worker-thread';

/**
 * One apply function with its own environment, in a worker thread — what a separate Lambda function
 * is in AWS. The handlers read their configuration at module load (like Lambda), so two targets'
 * apply functions cannot share one module instance; a worker has its own module registry and its
 * own `process.env`. The worker (local/handler-worker-thread.ts) is TypeScript, run through tsx's
 * CommonJS hook, which this preloads in the worker.
 */
export interface ApplyWorker {
  readonly apply: ApplyFn;
  stop(): Promise<void>;
}

/** Any handler in a worker of its own (local mode runs each pipe's enrichment this way when there are several). */
export interface HandlerWorker<E, R> {
  readonly invoke: (event: E, context: Context) => Promise<R>;
  stop(): Promise<void>;
}

export interface HandlerWorkerOptions {
  /** Absolute path of the handler module (a .ts file exporting `handler`). */
  handlerModule: string;
  /** The function's whole environment (the worker sees nothing else). */
  env: NodeJS.ProcessEnv;
}

/** An error thrown by the handler inside the worker, rebuilt with its name and message. */
export class WorkerApplyError extends Error {
  constructor(override readonly name: string, message: string) {
    super(message);
  }
}

const WORKER_ENTRY = join(__dirname, 'handler-worker-thread.ts');
/** tsx's CommonJS hook, as a path: the worker resolves nothing itself before it is loaded. */
const TSX_CJS = require.resolve('tsx/cjs');

export async function startApplyWorker(opts: HandlerWorkerOptions): Promise<ApplyWorker> {
  const worker = await startHandlerWorker<SQSEvent, SQSBatchResponse>(opts);
  return { apply: worker.invoke, stop: () => worker.stop() };
}

/** Resolves once the worker has loaded its handler module; rejects if it fails or exits first. */
function whenReady(worker: Worker): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onMessage = (message: WorkerReply): void => {
      if ('ready' in message) {
        worker.off('message', onMessage);
        worker.off('error', reject);
        worker.off('exit', onExit);
        resolve();
      }
    };
    const onExit = (code: number): void => reject(new Error(`handler worker exited with code ${code} before it was ready`));
    worker.on('message', onMessage);
    worker.once('error', reject);
    worker.once('exit', onExit);
  });
}

/** The serializable part of a Lambda Context (functions do not cross the thread boundary). */
function callOf(id: number, event: unknown, context: Context): WorkerCall {
  const { functionName, functionVersion, invokedFunctionArn, memoryLimitInMB, awsRequestId, logGroupName, logStreamName } = context;
  return {
    id,
    event,
    remainingMs: context.getRemainingTimeInMillis(),
    context: { callbackWaitsForEmptyEventLoop: true, functionName, functionVersion, invokedFunctionArn, memoryLimitInMB, awsRequestId, logGroupName, logStreamName },
  };
}

export async function startHandlerWorker<E, R>(opts: HandlerWorkerOptions): Promise<HandlerWorker<E, R>> {
  const workerData: HandlerWorkerData = { handlerModule: opts.handlerModule };
  const worker = new Worker(WORKER_ENTRY, { execArgv: ['--require', TSX_CJS], env: opts.env, workerData });
  const pending = new Map<number, { resolve: (r: R) => void; reject: (e: Error) => void }>();
  let nextId = 0;
  let exitError: Error | undefined;
  const failAll = (error: Error): void => {
    exitError = error;
    for (const call of pending.values()) call.reject(error);
    pending.clear();
  };
  worker.on('error', (error) => failAll(error));
  worker.on('exit', (code) => failAll(new Error(`handler worker exited with code ${code}`)));
  await whenReady(worker);
  worker.on('message', (message: WorkerReply) => {
    if (!('id' in message)) return;
    const call = pending.get(message.id);
    pending.delete(message.id);
    if ('error' in message) call?.reject(new WorkerApplyError(message.error.name, message.error.message));
    else call?.resolve(message.result as R);
  });
  const invoke = (event: E, context: Context): Promise<R> => {
    if (exitError !== undefined) return Promise.reject(exitError);
    const id = nextId++;
    return new Promise<R>((resolve, reject) => {
      pending.set(id, { resolve, reject });
      worker.postMessage(callOf(id, event, context));
    });
  };
  return {
    invoke,
    stop: async () => {
      worker.removeAllListeners('exit');
      // Calls still pending, and any made from now on, fail instead of waiting forever.
      failAll(new Error('handler worker stopped'));
      await worker.terminate();
    },
  };
}
