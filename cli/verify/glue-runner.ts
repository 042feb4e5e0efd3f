import { randomBytes } from 'node:crypto';
import { ReplicationError } from '../../handlers/core/errors';
import type { AttributeMapWire } from '../../schemas/attribute-value';
import type { DiffKind } from '../operator/verify';

/**
 * The verify Glue job (infra/glue/verify_job.py) as `verify --engine glue` sees it: start a run,
 * poll it, read the files it writes under its run folder, stop it. Two adapters: the deployed job
 * (glue-runner-aws.ts: Glue + S3) and the same script run locally against a kept local session
 * (cli/local/glue-verify-runner.ts). The orchestration (glue-engine.ts) sees only this port.
 *
 * The run folder holds (the contract with the job, docs/operator-cli.md "Three ways to verify"):
 * progress.json while it runs, summary.json once done, differences.jsonl (kind and keys, one per line).
 */

/** Per-run overrides of the job's default arguments; the job's defaults hold where undefined. */
export interface GlueVerifyArgs {
  /** Chosen by the CLI (newRunId()): names the run folder. */
  readonly runId: string;
  readonly buckets?: number;
  readonly segments?: number;
  readonly settleSeconds?: number;
  readonly pageSize?: number;
}

/** Glue JobRunState folded into four (RUNNING covers STARTING, WAITING, STOPPING, …). */
export type GlueRunState = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'STOPPED';

export interface GlueRunStatus {
  readonly state: GlueRunState;
  /** The state as the runner named it (Glue: TIMEOUT, ERROR, …), when it differs from `state`. */
  readonly rawState?: string;
  /** Glue's ErrorMessage, or the local script's last error line. */
  readonly error?: string;
}

export type GlueVerifyPhase = 'pass1' | 'pass2' | 'settle' | 'recheck' | 'done';

/** progress.json. */
export interface GlueVerifyProgress {
  readonly v: 1;
  readonly phase: GlueVerifyPhase;
  readonly segmentsDone: number;
  readonly segmentsTotal: number;
  readonly sourceItems: number;
  readonly targetItems: number;
  readonly updatedAt: string;
}

/** summary.json: the same names as VerifyResult (cli/ops/verify.ts). */
export interface GlueVerifySummary {
  readonly v: 1;
  readonly mode: 'full';
  readonly sourceItems: number;
  readonly targetItems: number;
  readonly checked: number;
  readonly outOfView: number;
  readonly buckets: number;
  readonly mismatchingBuckets: number;
  readonly missing: number;
  readonly extra: number;
  readonly different: number;
  readonly resolvedOnRecheck: number;
  readonly settledMs: number;
  readonly startedAt: string;
  readonly finishedAt: string;
}

/** One line of differences.jsonl (the scan engine's --report format). */
export interface GlueVerifyDifference {
  readonly kind: DiffKind;
  readonly keys: AttributeMapWire;
}

export interface GlueVerifyRunner {
  /** For messages: "Glue job ddbrepl-orders-dr-verify", "the local verify runner (python3 infra/glue/verify_job.py)". */
  readonly description: string;
  /** How often to poll. @default 5000 in the orchestration (a Glue run takes minutes) */
  readonly pollIntervalMs?: number;
  /** Starts a run; resolves with the run id it was given once the run is accepted. */
  start(args: GlueVerifyArgs): Promise<string>;
  poll(runId: string): Promise<GlueRunStatus>;
  /** undefined until the job has written its first progress.json. */
  readProgress(runId: string): Promise<GlueVerifyProgress | undefined>;
  /** undefined when the run wrote none (it failed or was stopped). */
  readSummary(runId: string): Promise<GlueVerifySummary | undefined>;
  /** differences.jsonl line by line, never the whole file in memory; breaking out of the loop closes it. */
  readDifferences(runId: string): AsyncIterable<GlueVerifyDifference>;
  /** Asks the run to stop (Ctrl-C). */
  stop(runId: string): Promise<void>;
  /** Where the run's report is: an s3:// URI or a local file. */
  reportLocation(runId: string): string;
  /** Where to look when the run failed: the CloudWatch log group and stream, or the local log file. */
  logsLocation(runId: string): string;
  /** Closes the clients (and stops nothing). */
  close(): void;
}

/** `verify-<ISO time without : and .>-<random>`: sorts by start time, unique per run, valid in an S3 key. */
export function newRunId(now: Date = new Date(), random: () => string = () => randomBytes(4).toString('hex')): string {
  return `verify-${now.toISOString().replace(/[:.]/g, '')}-${random()}`;
}

/**
 * Splits a byte stream into lines (UTF-8, `\n` or `\r\n`), holding at most one line and one chunk
 * in memory; a last line without a newline is yielded too, empty lines are skipped.
 */
export async function* lines(body: AsyncIterable<Uint8Array | string>): AsyncGenerator<string> {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let pending = '';
  for await (const chunk of body) {
    pending += typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    let newline = pending.indexOf('\n');
    while (newline >= 0) {
      const line = pending.slice(0, newline).replace(/\r$/, '');
      pending = pending.slice(newline + 1);
      if (line.trim() !== '') yield line;
      newline = pending.indexOf('\n');
    }
  }
  pending += decoder.decode();
  if (pending.trim() !== '') yield pending.replace(/\r$/, '');
}

/** Parses differences.jsonl lines; a malformed line fails naming its number (the report is the job's, not the operator's). */
export async function* parseDifferences(source: AsyncIterable<string>, where: string): AsyncGenerator<GlueVerifyDifference> {
  let n = 0;
  for await (const line of source) {
    n += 1;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      throw new ReplicationError(`${where} line ${n} is not JSON`);
    }
    const d = parsed as Partial<GlueVerifyDifference> | null;
    if (d === null || typeof d !== 'object' || (d.kind !== 'missing' && d.kind !== 'extra' && d.kind !== 'different') || typeof d.keys !== 'object' || d.keys === null) {
      throw new ReplicationError(`${where} line ${n} is not a difference ({"kind":"missing"|"extra"|"different","keys":{…}})`);
    }
    yield { kind: d.kind, keys: d.keys };
  }
}

/** progress.json / summary.json text → object, checked for the version and the fields the CLI uses. */
export function parseProgress(text: string, where: string): GlueVerifyProgress {
  const p = parseVersioned(text, where) as Partial<GlueVerifyProgress>;
  const phases: readonly string[] = ['pass1', 'pass2', 'settle', 'recheck', 'done'];
  if (typeof p.phase !== 'string' || !phases.includes(p.phase)) throw new ReplicationError(`${where}: unknown phase ${JSON.stringify(p.phase)}`);
  requireCounts(p, ['segmentsDone', 'segmentsTotal', 'sourceItems', 'targetItems'], where);
  return p as GlueVerifyProgress;
}

export function parseSummary(text: string, where: string): GlueVerifySummary {
  const s = parseVersioned(text, where) as Partial<GlueVerifySummary>;
  requireCounts(s, ['sourceItems', 'targetItems', 'checked', 'outOfView', 'buckets', 'mismatchingBuckets', 'missing', 'extra', 'different', 'resolvedOnRecheck', 'settledMs'], where);
  return s as GlueVerifySummary;
}

function parseVersioned(text: string, where: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ReplicationError(`${where} is not JSON`);
  }
  if (parsed === null || typeof parsed !== 'object' || (parsed as { v?: unknown }).v !== 1) {
    throw new ReplicationError(`${where} is not a version 1 verify file (written by a different version of infra/glue/verify_job.py?)`);
  }
  return parsed as Record<string, unknown>;
}

function requireCounts(value: object, names: readonly string[], where: string): void {
  for (const name of names) {
    const n = (value as Record<string, unknown>)[name];
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) throw new ReplicationError(`${where}: ${name} is not a count`);
  }
}
