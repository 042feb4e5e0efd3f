/**
 * The entry point of a handler worker thread (local/handler-worker.ts starts it): loads one Lambda
 * handler module with the worker's own `process.env` — so each local function reads its own
 * configuration at load, as in AWS — and runs the invocations the parent posts, one reply each.
 * It runs as TypeScript: the parent starts the worker with tsx's CommonJS hook preloaded.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { Context } from 'aws-lambda';

/** What the worker is started with. */
export interface HandlerWorkerData {
  /** Absolute path of the handler module (exports `handler`). */
  handlerModule: string;
}

/** The serializable part of a Lambda Context; the worker rebuilds the functions around it. */
export type WorkerContext = Pick<
  Context,
  'callbackWaitsForEmptyEventLoop' | 'functionName' | 'functionVersion' | 'invokedFunctionArn' | 'memoryLimitInMB' | 'awsRequestId' | 'logGroupName' | 'logStreamName'
>;

/** One invocation, parent → worker. */
export interface WorkerCall {
  id: number;
  event: unknown;
  /** Context.getRemainingTimeInMillis() when the parent posted the call. */
  remainingMs: number;
  context: WorkerContext;
}

/** Worker → parent: ready once the handler module loaded, then one reply per call. */
export type WorkerReply =
  | { ready: true }
  | { id: number; result: unknown }
  | { id: number; error: { name: string; message: string } };

type Handler = (event: unknown, context: Context) => unknown;

function contextFor(call: WorkerCall): Context {
  const deadline = Date.now() + call.remainingMs;
  return {
    ...call.context,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/** The error's name and message (what survives the thread boundary); anything thrown, not only Errors. */
function errorReply(id: number, error: unknown): WorkerReply {
  const { name, message } = (typeof error === 'object' && error !== null ? error : {}) as { name?: unknown; message?: unknown };
  return {
    id,
    error: {
      name: typeof name === 'string' && name !== '' ? name : 'Error',
      message: typeof message === 'string' && message !== '' ? message : String(error),
    },
  };
}

function serve(port: NonNullable<typeof parentPort>, data: HandlerWorkerData): void {
  // require, not import(): the handler is TypeScript loaded through tsx's CommonJS hook, which the
  // parent preloads; a fresh worker has its own module registry, so this is the function's own copy.
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- see above
  const { handler } = require(data.handlerModule) as { handler: Handler };
  const reply = (message: WorkerReply): void => port.postMessage(message);
  port.on('message', (call: WorkerCall) => {
    Promise.resolve()
      .then(() => handler(call.event, contextFor(call)))
      .then((result) => reply({ id: call.id, result }))
      // Also a result that cannot be posted (not structured-cloneable): the call fails, the worker lives on.
      .catch((error: unknown) => reply(errorReply(call.id, error)));
  });
  reply({ ready: true });
}

if (parentPort !== null) serve(parentPort, workerData as HandlerWorkerData);
