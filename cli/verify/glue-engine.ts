import { setTimeout as delay } from 'node:timers/promises';
import { CliError, EXIT } from '../errors';
import type { VerifyResult } from '../operator/verify';
import { newRunId, type GlueVerifyArgs, type GlueVerifyDifference, type GlueVerifyProgress, type GlueVerifyRunner, type GlueVerifySummary } from './glue-runner';

/**
 * `verify --engine glue`: one run of the verify Glue job, from start to summary. The job does the
 * comparison (the same two passes and re-check as cli/ops/verify.ts, spread over Glue workers); the
 * CLI starts it, shows its progress.json, waits, then reads summary.json and streams
 * differences.jsonl for the listing and --repair. Ctrl-C stops the run (BatchStopJobRun).
 */
export interface GlueVerifyRunOptions {
  readonly runner: GlueVerifyRunner;
  /** Overrides of the job's defaults; undefined keeps the job's. */
  readonly args?: Omit<GlueVerifyArgs, 'runId'>;
  /** @default newRunId() */
  readonly runId?: string;
  readonly signal?: AbortSignal;
  /** Once the runner accepted the run: say where it is, before the (long) wait. */
  readonly onStarted?: (runId: string) => void;
  /** After every poll; progress is undefined until the job has written one. */
  readonly onProgress?: (progress: GlueVerifyProgress | undefined) => void;
  /** @default the runner's, else 5000 (a Glue job takes minutes; GetJobRun and one small GetObject per poll) */
  readonly pollIntervalMs?: number;
  /** @default timers/promises setTimeout (abortable) */
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

export type GlueVerifyOutcome =
  | { readonly kind: 'done'; readonly runId: string; readonly summary: GlueVerifySummary }
  /** Ctrl-C: the run was asked to stop (`stopError` when the stop request itself failed). */
  | { readonly kind: 'interrupted'; readonly runId: string; readonly started: boolean; readonly stopError?: string };

export async function runGlueVerify(opts: GlueVerifyRunOptions): Promise<GlueVerifyOutcome> {
  const { runner, signal } = opts;
  const runId = opts.runId ?? newRunId();
  // A function: TypeScript would otherwise keep the first check's narrowing across the awaits.
  const aborted = (): boolean => signal?.aborted === true;
  if (aborted()) return { kind: 'interrupted', runId, started: false };
  await runner.start({ ...opts.args, runId });
  opts.onStarted?.(runId);
  const sleep = opts.sleep ?? ((ms: number, s?: AbortSignal) => delay(ms, undefined, s === undefined ? {} : { signal: s }));
  let progress: GlueVerifyProgress | undefined;
  for (;;) {
    if (aborted()) return stop(runner, runId);
    const status = await runner.poll(runId);
    // A progress file that cannot be read right now (being replaced, throttled) is not the run failing.
    progress = await runner.readProgress(runId).catch(() => progress) ?? progress;
    opts.onProgress?.(progress);
    switch (status.state) {
      case 'SUCCEEDED': {
        const summary = await runner.readSummary(runId);
        if (summary === undefined) {
          throw new CliError(`${runner.description} run ${runId} succeeded but wrote no summary.json in ${runner.reportLocation(runId).replace(/differences\.jsonl$/, '')}; logs: ${runner.logsLocation(runId)}`, EXIT.failure);
        }
        return { kind: 'done', runId, summary };
      }
      case 'FAILED':
        throw new CliError(
          `${runner.description} run ${runId} failed${status.rawState === undefined ? '' : ` (${status.rawState})`}: ${status.error ?? 'no error message'}; logs: ${runner.logsLocation(runId)}`,
          EXIT.failure,
        );
      case 'STOPPED':
        // Not by us (we return before polling once Ctrl-C is pressed): someone stopped it in the console or API.
        throw new CliError(`${runner.description} run ${runId} was stopped before it finished (not by this command): no verdict; run verify again`, EXIT.failure);
      default:
        break;
    }
    try {
      await sleep(opts.pollIntervalMs ?? runner.pollIntervalMs ?? 5000, signal);
    } catch (error) {
      if (!aborted()) throw error;
    }
  }
}

async function stop(runner: GlueVerifyRunner, runId: string): Promise<GlueVerifyOutcome> {
  try {
    await runner.stop(runId);
    return { kind: 'interrupted', runId, started: true };
  } catch (error) {
    return { kind: 'interrupted', runId, started: true, stopError: error instanceof Error ? error.message : String(error) };
  }
}

export interface ReadDifferencesOptions {
  /** How many to keep for the listing. */
  readonly limit: number;
  /** Called with batches of differences (in report order) while reading: --repair. */
  readonly repair?: (batch: readonly GlueVerifyDifference[]) => Promise<void>;
  /** Called with every difference (--report FILE: a local copy). */
  readonly copy?: (difference: GlueVerifyDifference) => void;
  /** @default 100 */
  readonly batchSize?: number;
}

/**
 * Streams the run's differences.jsonl once: keeps the first `limit` for the listing, hands every
 * difference to `repair` in batches and to `copy`. Without repair or copy it stops reading after
 * `limit`. Memory: `limit` differences plus one batch, whatever the report's size.
 */
export async function readGlueDifferences(runner: GlueVerifyRunner, runId: string, opts: ReadDifferencesOptions): Promise<{ shown: GlueVerifyDifference[]; read: number }> {
  const shown: GlueVerifyDifference[] = [];
  const readAll = opts.repair !== undefined || opts.copy !== undefined;
  const batchSize = opts.batchSize ?? 100;
  let batch: GlueVerifyDifference[] = [];
  let read = 0;
  for await (const d of runner.readDifferences(runId)) {
    read += 1;
    if (shown.length < opts.limit) shown.push(d);
    opts.copy?.(d);
    if (opts.repair !== undefined) {
      batch.push(d);
      if (batch.length >= batchSize) {
        await opts.repair(batch);
        batch = [];
      }
    }
    if (!readAll && shown.length >= opts.limit) break;
  }
  if (batch.length > 0) await opts.repair?.(batch);
  return { shown, read };
}

/** summary.json as the scan engine's result, so both engines print and exit alike. */
export function verifyResultOfSummary(summary: GlueVerifySummary, shown: readonly GlueVerifyDifference[]): VerifyResult {
  return {
    mode: 'full',
    sourceItems: summary.sourceItems,
    targetItems: summary.targetItems,
    checked: summary.checked,
    outOfView: summary.outOfView,
    buckets: summary.buckets,
    mismatchingBuckets: summary.mismatchingBuckets,
    missing: summary.missing,
    extra: summary.extra,
    different: summary.different,
    extraChecked: true,
    diffs: shown.map((d) => ({ kind: d.kind, keys: d.keys })),
    // The full list stays in the report; it is streamed, never held.
    differences: [],
    resolvedOnRecheck: summary.resolvedOnRecheck,
    settledMs: summary.settledMs,
    interrupted: false,
  };
}

const PHASE_NAMES: Record<GlueVerifyProgress['phase'], string> = {
  pass1: 'pass 1: digesting',
  pass2: 'pass 2: narrowing',
  settle: 'settling',
  recheck: 'rechecking',
  done: 'done',
};

/** One progress line: phase, segments, items, elapsed (counts only, never values). */
export function describeGlueProgress(progress: GlueVerifyProgress | undefined, elapsedSeconds: number): string {
  const elapsed = `${Math.round(elapsedSeconds)} s elapsed`;
  if (progress === undefined) return `glue: starting (waiting for the job's first progress), ${elapsed}`;
  return `glue ${PHASE_NAMES[progress.phase]}: segments ${progress.segmentsDone}/${progress.segmentsTotal}, source ${progress.sourceItems}, target ${progress.targetItems} items, ${elapsed}`;
}
