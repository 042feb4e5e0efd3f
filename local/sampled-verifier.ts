import { setTimeout as sleep } from 'node:timers/promises';
import { ENV } from '../handlers/core/env';
import { REPLICATION_NAME_ENV } from '../handlers/core/sampled-verify';
import type { SampledVerifyHandler } from '../handlers/sampled-verify';
import { EmulatorError } from './errors';
import type { LocalSession } from './session';

/**
 * `ddb-replicate local --sampled-verify`: the real handlers/sampled-verify.ts, configured through its
 * environment as the CDK construct configures it (on top of the session's handler environment:
 * tables, key schema, target role, filter), invoked every `everyMs` as the schedule would, against
 * the session's tables and the target's queue.
 */
export interface SampledVerifierOptions {
  everyMs: number;
  sampleSize: number;
  settleSeconds: number;
  autoRepair: boolean;
  onRun?: (result: RunResult) => void;
}

export type RunResult = Awaited<ReturnType<SampledVerifyHandler>>;

export interface SampledVerifierTotals {
  runs: number;
  sampled: number;
  mismatches: number;
  repaired: number;
}

export interface SampledVerifier {
  /** One invocation now (between the scheduled ones). */
  runOnce(): Promise<RunResult>;
  totals(): SampledVerifierTotals;
  /** Stops the schedule and waits for a run in progress; restores the environment. */
  stop(): Promise<void>;
}

export function startSampledVerifier(session: Pick<LocalSession, 'queueUrl'>, opts: SampledVerifierOptions): SampledVerifier {
  const overrides: Record<string, string> = {
    [REPLICATION_NAME_ENV]: 'local',
    [ENV.verifySampleSize]: String(opts.sampleSize),
    [ENV.verifySettleSeconds]: String(opts.settleSeconds),
    [ENV.verifyAutoRepair]: String(opts.autoRepair),
    [ENV.queueUrl]: session.queueUrl,
  };
  const previous = Object.fromEntries(Object.keys(overrides).map((name) => [name, process.env[name]]));
  Object.assign(process.env, overrides);
  // The module builds its handler from the environment when first loaded (set above, so it loads);
  // a session builds its own, with its endpoints, since the module may have been loaded before.
  // require, not import(): the CLI loads TypeScript through tsx's CommonJS hook only (bin/ddb-replicate.js).
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded late, once the environment above is set
  const handler = (require('../handlers/sampled-verify') as typeof import('../handlers/sampled-verify')).buildHandler(process.env);
  const totals: SampledVerifierTotals = { runs: 0, sampled: 0, mismatches: 0, repaired: 0 };
  // One run at a time, as the deployed function's reserved concurrency of 1 ensures.
  let running: Promise<RunResult> = Promise.resolve() as unknown as Promise<RunResult>;
  const runOnce = (): Promise<RunResult> => {
    running = running.catch(() => undefined).then(async () => {
      const result = await handler({});
      totals.runs += 1;
      totals.sampled += result.sampled;
      totals.mismatches += result.mismatches;
      totals.repaired += result.repaired;
      opts.onRun?.(result);
      return result;
    });
    return running;
  };
  const stopping = new AbortController();
  let failure: unknown;
  const loop = (async () => {
    while (!stopping.signal.aborted) {
      try {
        await sleep(opts.everyMs, undefined, { signal: stopping.signal });
      } catch {
        return; // the only rejection: stop() aborted the wait
      }
      try {
        await runOnce();
      } catch (error) {
        failure ??= error;
        return;
      }
    }
  })();
  return {
    runOnce: async () => {
      if (failure !== undefined) throw runFailed(failure);
      return runOnce();
    },
    totals: () => ({ ...totals }),
    stop: async () => {
      stopping.abort();
      await loop;
      await running.catch(() => undefined);
      for (const [name, value] of Object.entries(previous)) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
      if (failure !== undefined) throw runFailed(failure);
    },
  };
}

function runFailed(cause: unknown): EmulatorError {
  return new EmulatorError(`a scheduled sampled verification failed: ${cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause)}`, { cause });
}
