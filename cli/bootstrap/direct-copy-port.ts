import { messageOfThrown, ReplicationError } from '../../handlers/core/errors';
import { copyTableDirect, type DirectCopyOptions, type DirectCopyProgress, type DirectCopyResult } from './direct-engine';
import type { BootstrapPorts, CopyHandle, CopyProgress } from './ports';

export type CopyPorts = Pick<BootstrapPorts, 'startCopy' | 'copyProgress' | 'cancelCopy'>;

/**
 * The direct engine as the orchestrator's copy ports: it runs in this process, so progress is
 * exact (items written) and cancelling aborts it between pages.
 */
export function directCopyPorts(options: Omit<DirectCopyOptions, 'signal' | 'onProgress'>, now: () => number = Date.now): CopyPorts {
  interface Run {
    readonly handle: CopyHandle;
    readonly controller: AbortController;
    readonly started: number;
    progress?: DirectCopyProgress;
    result?: DirectCopyResult;
    error?: unknown;
  }
  const runs = new Map<string, Run>();
  let sequence = 0;
  const runOf = (handle: CopyHandle): Run => {
    const run = runs.get(handle.id);
    if (run === undefined) throw new ReplicationError(`unknown direct copy ${handle.id}`);
    return run;
  };
  return {
    startCopy: () => {
      const handle: CopyHandle = { id: `direct-${++sequence}`, description: `the direct engine (${options.segments ?? 'default'} segments, ${options.sourceTableName} → ${options.targetTableName})` };
      const run: Run = { handle, controller: new AbortController(), started: now() };
      runs.set(handle.id, run);
      // Settles into the run's state; copyProgress reports it (the orchestrator polls, it does not await this).
      void copyTableDirect({ ...options, signal: run.controller.signal, onProgress: (p) => { run.progress = p; } }).then(
        (result) => { run.result = result; },
        (error: unknown) => { run.error = error; },
      );
      return Promise.resolve(handle);
    },
    // eslint-disable-next-line @typescript-eslint/require-await -- async so runOf's throw on an unknown handle is a rejection, like any other port failure
    copyProgress: async (handle): Promise<CopyProgress> => {
      const run = runOf(handle);
      const elapsedMs = (run.result?.elapsedMs ?? now() - run.started);
      const itemsCopied = run.result?.written ?? run.progress?.written ?? 0;
      if (run.error !== undefined) {
        return { state: 'FAILED', itemsCopied, elapsedMs, message: run.error instanceof Error ? `${run.error.name}: ${run.error.message}` : messageOfThrown(run.error) };
      }
      if (run.result !== undefined) return { state: run.result.aborted ? 'STOPPED' : 'SUCCEEDED', itemsCopied, elapsedMs };
      return { state: 'RUNNING', itemsCopied, elapsedMs };
    },
    // eslint-disable-next-line @typescript-eslint/require-await -- async so runOf's throw on an unknown handle is a rejection, like any other port failure
    cancelCopy: async (handle) => {
      runOf(handle).controller.abort();
    },
  };
}
