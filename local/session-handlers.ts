import { join } from 'node:path';
import type { DynamoDBRecord } from 'aws-lambda';
import { ENV } from '../handlers/core/env';
import { functionEnvironment, type DeployedDefinition } from './deployed-definition';
import { lambdaContext, type ApplyFn } from './event-source-emulator';
import { startApplyWorker, startHandlerWorker } from './handler-worker';
import type { EnrichFn } from './pipe-emulator';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from './session-constants';
import type { LocalQueue } from './sqs-local';

/**
 * Handler loading of a local session (docs/architecture.md#local-mode). The handlers are configured
 * the way Lambda configures them — environment variables read at module load — so each function
 * gets the template's environment, its queue references resolved to the local queues; local mode
 * adds only endpoints, credentials and log/metrics switches.
 */
export interface LocalEndpoints {
  /** The fault proxy in front of DynamoDB Local, which the handlers' DynamoDB clients use. */
  dynamodb: string;
  sqs: string;
  sts: string;
}

export interface LoadedHandlers {
  /** By pipe logical id. */
  enrichers: Map<string, EnrichFn>;
  /** In the definition's target order. */
  applies: ApplyFn[];
}

/** Receives what stops a loaded function (a worker, or process.env put back) as soon as it exists. */
type OnStopper = (stop: () => Promise<void>) => void;

export interface HandlerLoadOptions {
  definition: DeployedDefinition;
  localQueue: (logicalId: string) => LocalQueue;
  endpoints: LocalEndpoints;
  /** Several targets: each function in a worker thread; one: both handlers in-process. */
  workers: boolean;
  handlerLogLevel: string;
  /** The local main queues' VisibilityTimeout, when it overrides the template's. */
  visibilityOverride: number | undefined;
}

/** What local mode sets on top of every function's template environment (undefined: unset). */
function localEnvironment(opts: HandlerLoadOptions): Record<string, string | undefined> {
  return {
    AWS_REGION: LOCAL_REGION,
    AWS_DEFAULT_REGION: LOCAL_REGION,
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    AWS_SESSION_TOKEN: undefined,
    AWS_PROFILE: undefined,
    AWS_ENDPOINT_URL_DYNAMODB: opts.endpoints.dynamodb,
    AWS_ENDPOINT_URL_SQS: opts.endpoints.sqs,
    AWS_ENDPOINT_URL_STS: opts.endpoints.sts,
    [ENV.logLevel]: opts.handlerLogLevel,
    [ENV.metricsSink]: 'off',
    // A shorter local visibility timeout caps apply's visibility backoff too (handlers/core/visibility-backoff.ts).
    ...(opts.visibilityOverride === undefined ? {} : { [ENV.visibilityBackoffMaxSeconds]: String(opts.visibilityOverride) }),
  };
}

/** Sets process.env entries and returns the function that puts the previous values back. */
function setEnv(values: Record<string, string | undefined>): () => void {
  const previous: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(values)) {
    previous[name] = process.env[name];
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  return () => setEnv(previous);
}

/** Drops cached handler modules (outside jest, whose registry is per test file) so they read the new env. */
function forgetHandlerModules(): void {
  const handlersDir = join(__dirname, '..', 'handlers');
  for (const id of Object.keys(require.cache)) if (id.startsWith(handlersDir)) delete require.cache[id];
}

/**
 * One target (one pipe): both handlers in-process, with their template environments (which agree
 * on every shared variable) set on process.env until the session stops.
 */
function loadInProcess(opts: HandlerLoadOptions, localEnv: Record<string, string | undefined>, onStopper: OnStopper): LoadedHandlers {
  const { definition } = opts;
  const functionEnv = (logicalId: string): Record<string, string> => functionEnvironment(definition, logicalId, opts.localQueue);
  const [target] = definition.targets;
  const [pipeDef] = definition.pipes;
  const restoreEnv = setEnv({ ...functionEnv(pipeDef.enrichmentFunctionLogicalId), ...functionEnv(target.applyFunction.logicalId), ...localEnv });
  onStopper(() => { restoreEnv(); return Promise.resolve(); });
  forgetHandlerModules();
  // require, not import(): under tsx a dynamic import() is cached outside require.cache, so a second
  // session in one process (the bench's PF runs) would get the first session's handlers and clients.
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- see above: require so each session gets fresh handler modules
  const enrichModule = require('../handlers/enrich') as typeof import('../handlers/enrich');
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- see above
  const applyModule = require('../handlers/apply') as typeof import('../handlers/apply');
  return {
    enrichers: new Map([[pipeDef.logicalId, (records) => enrichModule.handler(records)]]),
    applies: [(event, context) => applyModule.handler(event, context)],
  };
}

/**
 * Several targets: each function in a worker thread with its own environment — what a separate
 * Lambda function is in AWS — because the handlers read their configuration at load.
 */
async function loadInWorkers(opts: HandlerLoadOptions, localEnv: Record<string, string | undefined>, onStopper: OnStopper): Promise<LoadedHandlers> {
  const { definition } = opts;
  const workerEnv = (logicalId: string): NodeJS.ProcessEnv => {
    const env: NodeJS.ProcessEnv = { ...process.env, ...functionEnvironment(definition, logicalId, opts.localQueue), ...localEnv };
    for (const [name, value] of Object.entries(env)) if (value === undefined) delete env[name];
    return env;
  };
  const loaded: LoadedHandlers = { enrichers: new Map(), applies: [] };
  for (const pipeDef of definition.pipes) {
    const worker = await startHandlerWorker<DynamoDBRecord[], unknown[]>({ handlerModule: join(__dirname, '..', 'handlers', 'enrich.ts'), env: workerEnv(pipeDef.enrichmentFunctionLogicalId) });
    onStopper(() => worker.stop());
    const timeoutMs = (definition.functions.get(pipeDef.enrichmentFunctionLogicalId)?.timeoutSeconds ?? 60) * 1000;
    loaded.enrichers.set(pipeDef.logicalId, (records) => worker.invoke(records, lambdaContext(`${pipeDef.name}-enrich`, LOCAL_REGION, timeoutMs)));
  }
  for (const target of definition.targets) {
    const worker = await startApplyWorker({ handlerModule: join(__dirname, '..', 'handlers', 'apply.ts'), env: workerEnv(target.applyFunction.logicalId) });
    onStopper(() => worker.stop());
    loaded.applies.push(worker.apply);
  }
  return loaded;
}

/**
 * Loads the definition's enrichment and apply functions. `onStopper` receives what stops each one
 * as soon as it exists, so a failure part-way leaves nothing running once the session stops.
 */
export async function loadHandlers(opts: HandlerLoadOptions, onStopper: OnStopper): Promise<LoadedHandlers> {
  const localEnv = localEnvironment(opts);
  return opts.workers ? loadInWorkers(opts, localEnv, onStopper) : loadInProcess(opts, localEnv, onStopper);
}
