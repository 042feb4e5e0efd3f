import { sleep as abortableSleep } from '../../handlers/core/backoff';
import { messageOfThrown, ReplicationError } from '../../handlers/core/errors';
import type { BootstrapPorts, CopyHandle, CopyProgress } from './ports';

/**
 * The initial load, as a pure sequence over ports (docs/architecture.md#initial-load): the pipe has been
 * buffering changes into the target's FIFO queue since deploy; pause the apply (disable its event
 * source mapping), copy a snapshot of the source table, resume the apply, wait for the buffered
 * changes to drain. They replay over the snapshot, so the target converges to the source.
 *
 * Whatever goes wrong after the pause — a failed copy, Ctrl-C — the mapping is enabled again, and
 * the error says exactly what state everything is in.
 */

export type BootstrapStep = 'check' | 'pause' | 'copy' | 'resume' | 'drain';

export type BootstrapEvent =
  | { readonly kind: 'step'; readonly step: BootstrapStep; readonly message: string }
  | {
    readonly kind: 'copy-progress';
    readonly state: CopyProgress['state'];
    readonly elapsedMs: number;
    readonly itemsCopied?: number;
    /** Items per second since the copy started. */
    readonly rate?: number;
    /** From the table's approximate ItemCount: a guide, not a promise. */
    readonly etaSeconds?: number;
    readonly tableItemCount?: number;
  }
  | { readonly kind: 'drain-progress'; readonly queueDepth: number; readonly elapsedMs: number };

export interface BootstrapOptions {
  readonly ports: BootstrapPorts;
  /** Print the plan; call no mutating port. */
  readonly dryRun?: boolean;
  /** Ctrl-C: stop the copy gracefully, re-enable the mapping, report. */
  readonly signal?: AbortSignal;
  readonly onEvent?: (event: BootstrapEvent) => void;
  /** Between progress polls. @default 5000 */
  readonly pollIntervalMs?: number;
  /** How long a mapping may take to reach Disabled/Enabled. @default 300000 (Lambda says "can take several minutes") */
  readonly mappingTimeoutMs?: number;
  /** How long a cancelled copy may take to stop. @default 300000 */
  readonly cancelTimeoutMs?: number;
  /** How long to wait for the queue to drain; the bootstrap itself has succeeded by then. @default no limit */
  readonly drainTimeoutMs?: number;
  /** @default setTimeout, cut short by `signal` */
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** @default Date.now */
  readonly now?: () => number;
}

export interface BootstrapPlan {
  readonly steps: readonly string[];
  readonly pipeState: string;
  readonly mappingState: string;
  readonly queueDepth: number;
  readonly tableItemCount?: number;
}

export interface BootstrapSummary {
  readonly outcome: 'dry-run' | 'succeeded';
  readonly plan: BootstrapPlan;
  readonly itemsCopied?: number;
  readonly copySeconds?: number;
  /** Set when the queue drained; undefined when the drain wait timed out (the replication goes on regardless). */
  readonly drainSeconds?: number;
  readonly queueDepthAtEnd?: number;
}

/** What is true when the bootstrap stops early; the message says it in words. */
export interface BootstrapState {
  readonly mapping: 'enabled' | 'disabled' | 'unknown';
  readonly copy: 'not-started' | 'succeeded' | 'failed' | 'stopped' | 'still-running' | 'unknown';
  readonly itemsCopied?: number;
}

/** The bootstrap did not complete. `state` (and the message) say what is enabled, copied, running. */
export class BootstrapError extends ReplicationError {
  override readonly name: string = 'BootstrapError';
  constructor(message: string, readonly state: BootstrapState, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** Stopped by the operator (Ctrl-C): same state reporting as a failure. */
export class BootstrapAbortedError extends BootstrapError {
  override readonly name: string = 'BootstrapAbortedError';
}

/** Runs (or with dryRun, plans) the bootstrap. Throws BootstrapError/BootstrapAbortedError with the state when it stops early. */
export async function runBootstrap(opts: BootstrapOptions): Promise<BootstrapSummary> {
  const { ports } = opts;
  const { names } = ports;
  const emit = opts.onEvent ?? (() => undefined);
  const pollMs = opts.pollIntervalMs ?? 5000;
  const now = opts.now ?? Date.now;
  const sleep = opts.sleep ?? abortableSleep;
  const mappingTimeoutMs = opts.mappingTimeoutMs ?? 300_000;
  const cancelTimeoutMs = opts.cancelTimeoutMs ?? 300_000;
  const aborted = (): boolean => opts.signal?.aborted === true;

  // 1. Check: read-only. A pipe that is not RUNNING is not buffering changes: a snapshot copied now would never be caught up.
  emit({ kind: 'step', step: 'check', message: `checking pipe ${names.pipe} and event source mapping ${names.mapping}` });
  const [pipeState, mappingState, queueDepth, tableItemCount] = await Promise.all([
    ports.describePipe(), ports.getMappingState(), ports.queueDepth(), ports.tableItemCount(),
  ]);
  if (pipeState !== 'RUNNING') {
    throw new BootstrapError(
      `pipe ${names.pipe} is ${pipeState}, not RUNNING: it is not buffering changes into queue ${names.queue}, so a snapshot copied now would miss every change made meanwhile. ` +
      `Start the pipe (aws pipes start-pipe --name ${names.pipe}) and run bootstrap again. Nothing was changed.`,
      { mapping: mappingState === 'Enabled' ? 'enabled' : mappingState === 'Disabled' ? 'disabled' : 'unknown', copy: 'not-started' },
    );
  }
  const plan: BootstrapPlan = {
    pipeState, mappingState, queueDepth, ...(tableItemCount === undefined ? {} : { tableItemCount }),
    steps: [
      `pipe ${names.pipe} is RUNNING and buffering changes into ${names.queue} (${queueDepth} messages now)`,
      `disable event source mapping ${names.mapping} (now ${mappingState}) and wait until it is Disabled: the apply stops, the queue keeps buffering`,
      `copy ${names.sourceTable} (about ${tableItemCount ?? 'an unknown number of'} items) to target ${names.target} with ${names.copy}`,
      `enable event source mapping ${names.mapping} and wait until it is Enabled: buffered changes replay over the snapshot`,
      `wait until queue ${names.queue} has drained`,
    ],
  };
  if (opts.dryRun) return { outcome: 'dry-run', plan };
  if (aborted()) throw new BootstrapAbortedError('bootstrap interrupted before it started. Nothing was changed.', { mapping: mappingState === 'Disabled' ? 'disabled' : 'enabled', copy: 'not-started' });

  const waitForMapping = async (wanted: 'Enabled' | 'Disabled', honourAbort: boolean): Promise<void> => {
    const deadline = now() + mappingTimeoutMs;
    for (;;) {
      const state = await ports.getMappingState();
      if (state === wanted) return;
      if (honourAbort && aborted()) throw new BootstrapAbortedError('interrupted', { mapping: 'unknown', copy: 'not-started' });
      if (now() >= deadline) throw new ReplicationError(`event source mapping ${names.mapping} is still ${state} after ${Math.round(mappingTimeoutMs / 1000)} s (waiting for ${wanted})`);
      // Re-enabling must not be cut short by Ctrl-C: it is what leaves things in a good state.
      await sleep(Math.min(pollMs, 2000), honourAbort ? opts.signal : undefined);
    }
  };

  // From here on, every way out re-enables the mapping.
  let handle: CopyHandle | undefined;
  let last: CopyProgress | undefined;
  const copyStarted = now();
  try {
    emit({ kind: 'step', step: 'pause', message: `disabling event source mapping ${names.mapping}; the queue keeps buffering changes` });
    await ports.disableMapping();
    await waitForMapping('Disabled', true);
    if (aborted()) throw new BootstrapAbortedError('interrupted', { mapping: 'disabled', copy: 'not-started' });

    emit({ kind: 'step', step: 'copy', message: `copying ${names.sourceTable} to target ${names.target} with ${names.copy}` });
    handle = await ports.startCopy();
    for (;;) {
      last = await ports.copyProgress(handle);
      emit(progressEvent(last, tableItemCount));
      if (last.state === 'SUCCEEDED') break;
      if (last.state !== 'RUNNING') throw new ReplicationError(`the copy (${handle.description}) ${last.state === 'FAILED' ? 'failed' : 'was stopped'}${last.message ? `: ${last.message}` : ''}`);
      if (aborted()) break;
      await sleep(pollMs, opts.signal);
    }
    if (aborted() && last.state !== 'SUCCEEDED') {
      last = await stopCopy(ports, handle, last, { pollMs, cancelTimeoutMs, now, sleep });
      throw new BootstrapAbortedError('interrupted', { mapping: 'disabled', copy: last.state === 'RUNNING' ? 'still-running' : 'stopped' });
    }
  } catch (error) {
    const interrupted = error instanceof BootstrapAbortedError;
    // A failure while the copy may still run (e.g. progress polling failed): stop it, so it cannot race the replay.
    let stopError: unknown;
    if (handle !== undefined && last?.state === 'RUNNING' && !interrupted) {
      const running = last;
      last = await stopCopy(ports, handle, running, { pollMs, cancelTimeoutMs, now, sleep }).catch((e: unknown) => {
        stopError = e;
        return running;
      });
    }
    const copy: BootstrapState['copy'] = handle === undefined ? 'not-started'
      : last === undefined ? 'unknown'
        : last.state === 'SUCCEEDED' ? 'succeeded' : last.state === 'RUNNING' ? 'still-running' : last.state === 'FAILED' ? 'failed' : 'stopped';
    const reenableError = await ports.enableMapping().then(() => waitForMapping('Enabled', false)).then(() => undefined, (e: unknown) => e);
    // If re-enabling failed, say what the mapping really is (it may never have been disabled).
    const mapping: BootstrapState['mapping'] = reenableError === undefined ? 'enabled'
      : await ports.getMappingState().then((s) => (s === 'Enabled' ? 'enabled' as const : s === 'Disabled' ? 'disabled' as const : 'unknown' as const), () => 'unknown' as const);
    const state: BootstrapState = { mapping, copy, ...(last?.itemsCopied === undefined ? {} : { itemsCopied: last.itemsCopied }) };
    const what = interrupted ? 'bootstrap interrupted' : `bootstrap failed: ${error instanceof Error ? error.message : String(error)}`;
    const stopNote = stopError === undefined ? '' : ` Stopping the copy failed too: ${messageOfThrown(stopError)}.`;
    const message = `${what}. ${describeState(state, names, handle, last, reenableError)}${stopNote}`;
    throw interrupted ? new BootstrapAbortedError(message, state, { cause: reenableError ?? error }) : new BootstrapError(message, state, { cause: error });
  }
  const copySeconds = (now() - copyStarted) / 1000;

  // Resume. Re-enabling is the one step that must complete: retried once, never cut short by Ctrl-C.
  emit({ kind: 'step', step: 'resume', message: `enabling event source mapping ${names.mapping}; buffered changes now replay over the snapshot` });
  try {
    await ports.enableMapping().catch(() => ports.enableMapping());
    await waitForMapping('Enabled', false);
  } catch (error) {
    const state: BootstrapState = { mapping: 'unknown', copy: 'succeeded', ...(last.itemsCopied === undefined ? {} : { itemsCopied: last.itemsCopied }) };
    throw new BootstrapError(`bootstrap failed: the copy succeeded but event source mapping ${names.mapping} could not be enabled again (${error instanceof Error ? error.message : String(error)}). ${describeState(state, names, handle, last, error)}`, state, { cause: error });
  }

  // Drain: the bootstrap is done either way; this only tells the operator when the target has caught up.
  emit({ kind: 'step', step: 'drain', message: `waiting for queue ${names.queue} to drain` });
  const drainStarted = now();
  let depth = await ports.queueDepth();
  for (;;) {
    emit({ kind: 'drain-progress', queueDepth: depth, elapsedMs: now() - drainStarted });
    if (depth === 0) break;
    if (aborted() || (opts.drainTimeoutMs !== undefined && now() - drainStarted >= opts.drainTimeoutMs)) {
      return { outcome: 'succeeded', plan, ...copied(last), copySeconds, queueDepthAtEnd: depth };
    }
    await sleep(pollMs, opts.signal);
    depth = await ports.queueDepth();
  }
  return { outcome: 'succeeded', plan, ...copied(last), copySeconds, drainSeconds: (now() - drainStarted) / 1000, queueDepthAtEnd: 0 };
}

function copied(progress: CopyProgress): { itemsCopied?: number } {
  return progress.itemsCopied === undefined ? {} : { itemsCopied: progress.itemsCopied };
}

function progressEvent(progress: CopyProgress, tableItemCount: number | undefined): BootstrapEvent {
  const seconds = progress.elapsedMs / 1000;
  const rate = progress.itemsCopied !== undefined && seconds > 0 ? progress.itemsCopied / seconds : undefined;
  const etaSeconds = rate !== undefined && rate > 0 && tableItemCount !== undefined && progress.itemsCopied !== undefined
    ? Math.max(0, (tableItemCount - progress.itemsCopied) / rate)
    : undefined;
  return {
    kind: 'copy-progress', state: progress.state, elapsedMs: progress.elapsedMs,
    ...(progress.itemsCopied === undefined ? {} : { itemsCopied: progress.itemsCopied }),
    ...(rate === undefined ? {} : { rate }),
    ...(etaSeconds === undefined ? {} : { etaSeconds }),
    ...(tableItemCount === undefined ? {} : { tableItemCount }),
  };
}

async function stopCopy(
  ports: BootstrapPorts, handle: CopyHandle, last: CopyProgress,
  o: { pollMs: number; cancelTimeoutMs: number; now: () => number; sleep: (ms: number, signal?: AbortSignal) => Promise<void> },
): Promise<CopyProgress> {
  await ports.cancelCopy(handle);
  const deadline = o.now() + o.cancelTimeoutMs;
  let progress = last;
  for (;;) {
    progress = await ports.copyProgress(handle);
    if (progress.state !== 'RUNNING' || o.now() >= deadline) return progress;
    await o.sleep(Math.min(o.pollMs, 2000));
  }
}

/** The operator's view of what is true now, and what to do next. */
function describeState(state: BootstrapState, names: BootstrapPorts['names'], handle: CopyHandle | undefined, last: CopyProgress | undefined, reenableError: unknown): string {
  const parts: string[] = [];
  if (state.mapping === 'enabled') {
    parts.push(`The event source mapping ${names.mapping} is enabled again; buffered changes are being applied from queue ${names.queue}.`);
  } else {
    const why = reenableError instanceof Error ? ` (${reenableError.message})` : '';
    parts.push(
      `The event source mapping ${names.mapping} could NOT be enabled again${why}: changes keep buffering in queue ${names.queue} (14 days retention) but are not applied. ` +
      `Enable it now: aws lambda update-event-source-mapping --uuid ${names.mapping} --enabled.`,
    );
  }
  const items = state.itemsCopied === undefined ? '' : ` after ${state.itemsCopied} items`;
  switch (state.copy) {
    case 'not-started': parts.push('The snapshot copy had not started.'); break;
    case 'succeeded': parts.push(`The snapshot copy had completed${items}.`); break;
    case 'failed': parts.push(`The snapshot copy (${handle?.description ?? names.copy}) failed${items}${last?.message ? `: ${last.message}` : ''}.`); break;
    case 'stopped': parts.push(`The snapshot copy stopped${items}.`); break;
    case 'still-running': parts.push(`The snapshot copy (${handle?.description ?? names.copy}) was asked to stop but was still running${items}; it may still be writing.`); break;
    case 'unknown': parts.push(`The state of the snapshot copy (${handle?.description ?? names.copy}) is unknown${items}.`); break;
  }
  if (state.copy !== 'succeeded') {
    parts.push('Re-run bootstrap to copy again: it is idempotent, because the copy writes full-item puts and every change made since replays after it.');
  }
  return parts.join(' ');
}
