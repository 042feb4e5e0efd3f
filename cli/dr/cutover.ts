import type { FreezeState } from '../../handlers/core/freeze';
import { CliError, EXIT } from '../errors';
import { totalDepth } from '../operator/queues';
import { formatDuration, type TargetStatus } from '../operator/status';

/**
 * Planned cutover (docs/disaster-recovery.md): check → writes stopped → drain → verify → freeze.
 * Each step is recorded in a small state record once it has completed; a re-run skips completed
 * steps, so an interrupted cutover (Ctrl-C, a lost terminal, a failed verify) is simply run again.
 * Every effect goes through CutoverPorts, so this one orchestrator runs against AWS, a local
 * session and the unit tests' fakes.
 */
export const CUTOVER_STEPS = ['check', 'writes-stopped', 'drain', 'verify', 'freeze'] as const;
export type CutoverStep = (typeof CUTOVER_STEPS)[number];

/** What verify reports to the cutover (the digest verify only has to fill this in). */
export interface VerifySummary {
  readonly equal: boolean;
  readonly mode: 'full' | 'sample';
  readonly sourceItems: number;
  readonly checked: number;
  readonly missing: number;
  readonly extra: number;
  readonly different: number;
  /** Stopped by Ctrl-C: no verdict. */
  readonly interrupted?: boolean;
}

/** The state record, persisted after every step (`.ddb-replicate/cutover-<replication>-<target>.json`). */
export interface CutoverRecord {
  readonly v: 1;
  readonly kind: 'cutover';
  readonly replication?: string;
  readonly target: string;
  readonly startedAt: string;
  updatedAt: string;
  readonly steps: {
    check?: { at: string; queued: number; dlq: number; lagP99Ms?: number };
    'writes-stopped'?: { at: string; how: 'confirmed' | 'quiet-stream'; lastSequence?: string };
    drain?: { at: string; lastSequence?: string };
    verify?: { at: string } & VerifySummary;
    freeze?: { at: string; frozenAt: string; mapping: string };
  };
  completedAt?: string;
}

export interface CutoverPorts {
  readonly target: string;
  readonly replication?: string;
  /** Pipe, mapping, queue and DLQ depths, lag (cli/operator/status.ts). */
  status(): Promise<TargetStatus>;
  /** Sequence number of the newest record in the source stream (undefined: none). */
  lastStreamSequence(): Promise<string | undefined>;
  /** Whether the target holds the source's current item for the newest stream record's key. */
  caughtUpWithStream(): Promise<{ caughtUp: boolean; lastSequence?: string }>;
  verify(sample: number | undefined): Promise<VerifySummary>;
  readFreeze(): Promise<FreezeState>;
  /** Sets the freeze mark (idempotent). */
  freeze(mark: { frozenAt: string; reason: 'cutover' | 'failover' }): Promise<void>;
  /** Disables the apply mapping and waits until it is Disabled; returns its state. */
  disableApply(): Promise<string>;
  /** How long after the mark every apply has seen it: the apply's cache TTL plus its timeout. */
  readonly settleMs: number;
  loadRecord(): CutoverRecord | undefined;
  saveRecord(record: CutoverRecord): void;
  now(): number;
  /** Waits, rejecting when the signal aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export interface CutoverOptions {
  /** The operator confirms application writes to the source have stopped (`--writes-stopped`). */
  readonly writesStopped: boolean;
  /** Without --writes-stopped: how long the stream must show no new record. @default 60000 */
  readonly quietMs?: number;
  readonly allowDlq?: boolean;
  /** The check fails when the lag p99 (or the oldest queued change) exceeds this. @default 60000 */
  readonly maxLagMs?: number;
  /** Verify a fraction of the items (`--sample`) instead of all. */
  readonly sample?: number;
  /** Give up draining after this long (re-run to continue). @default 1800000 */
  readonly drainTimeoutMs?: number;
  /** @default 2000 */
  readonly pollMs?: number;
  readonly signal?: AbortSignal;
  readonly onEvent?: (event: CutoverEvent) => void;
}

export interface CutoverEvent {
  readonly step: CutoverStep;
  readonly status: 'start' | 'progress' | 'done' | 'skipped';
  readonly message: string;
}

/** A step that cannot go on: nothing after it ran; fix what the message says and run cutover again. */
export class CutoverStepError extends CliError {
  override readonly name = 'CutoverStepError';
  constructor(readonly step: CutoverStep, message: string) {
    super(`cutover stopped at ${step}: ${message}`, EXIT.failure);
  }
}

export async function runCutover(ports: CutoverPorts, opts: CutoverOptions): Promise<CutoverRecord> {
  const iso = (): string => new Date(ports.now()).toISOString();
  const emit = (step: CutoverStep, status: CutoverEvent['status'], message: string): void => opts.onEvent?.({ step, status, message });
  const record: CutoverRecord = ports.loadRecord() ?? {
    v: 1, kind: 'cutover', ...(ports.replication === undefined ? {} : { replication: ports.replication }), target: ports.target,
    startedAt: iso(), updatedAt: iso(), steps: {},
  };
  const save = (): void => {
    record.updatedAt = iso();
    ports.saveRecord(record);
  };
  const pollMs = opts.pollMs ?? 2000;
  const wait = (ms: number): Promise<void> => {
    if (opts.signal?.aborted === true) throw new CliError('interrupted', EXIT.interrupted);
    return ports.sleep(ms, opts.signal);
  };
  const skip = (step: CutoverStep): boolean => {
    if (record.steps[step] === undefined) return false;
    emit(step, 'skipped', `already done at ${(record.steps[step]).at}`);
    return true;
  };
  if (record.completedAt !== undefined) {
    for (const step of CUTOVER_STEPS) emit(step, 'skipped', `cutover completed at ${record.completedAt}`);
    return record;
  }

  // 1. check ----------------------------------------------------------------------------------------
  if (!skip('check')) {
    emit('check', 'start', 'pipe running, apply enabled, DLQ empty, lag low');
    const s = await ports.status();
    const problems: string[] = [];
    if (s.pipe === null) problems.push('the pipe\'s state could not be read');
    else if (s.pipe.state !== 'RUNNING') problems.push(`pipe ${s.pipe.name} is ${s.pipe.state}, not RUNNING`);
    if (s.mapping === null) problems.push('the apply mapping\'s state could not be read');
    else if (s.mapping.state !== 'Enabled') problems.push(`the apply mapping is ${s.mapping.state}: nothing would drain (resume it first)`);
    if (s.dlq === null) problems.push('the DLQ could not be read');
    else if (totalDepth(s.dlq) > 0 && opts.allowDlq !== true) problems.push(`the DLQ holds ${totalDepth(s.dlq)} messages: replay them first (\`ddb-replicate replay\`), or pass --allow-dlq`);
    if (s.queue === null) problems.push('the queue could not be read');
    const maxLag = opts.maxLagMs ?? 60_000;
    const lag = s.lagLastMinute?.p99Ms;
    if (lag !== undefined && lag > maxLag) problems.push(`replication lag p99 is ${Math.round(lag)} ms, over ${maxLag} ms (--max-lag-seconds)`);
    if (s.oldestMessageAgeSeconds !== null && s.oldestMessageAgeSeconds * 1000 > maxLag) problems.push(`the oldest queued change is ${formatDuration(s.oldestMessageAgeSeconds)} old, over ${maxLag / 1000} s (--max-lag-seconds)`);
    if (problems.length > 0) throw new CutoverStepError('check', problems.join('; '));
    record.steps.check = { at: iso(), queued: totalDepth(s.queue!), dlq: totalDepth(s.dlq!), ...(lag === undefined ? {} : { lagP99Ms: lag }) };
    save();
    emit('check', 'done', `pipe RUNNING, apply Enabled, queue ${record.steps.check.queued}, DLQ ${record.steps.check.dlq}`);
  }

  // 2. writes stopped -------------------------------------------------------------------------------
  if (!skip('writes-stopped')) {
    if (opts.writesStopped) {
      record.steps['writes-stopped'] = { at: iso(), how: 'confirmed' };
      emit('writes-stopped', 'done', 'confirmed by the operator (--writes-stopped)');
    } else {
      const quietMs = opts.quietMs ?? 60_000;
      emit('writes-stopped', 'start', `waiting until the source stream shows no new record for ${formatDuration(quietMs / 1000)} (stop application writes now, or pass --writes-stopped)`);
      let last = await ports.lastStreamSequence();
      let since = ports.now();
      while (ports.now() - since < quietMs) {
        await wait(pollMs);
        const sequence = await ports.lastStreamSequence();
        if (sequence !== last) {
          last = sequence;
          since = ports.now();
        }
        emit('writes-stopped', 'progress', `quiet for ${formatDuration((ports.now() - since) / 1000)} of ${formatDuration(quietMs / 1000)}`);
      }
      record.steps['writes-stopped'] = { at: iso(), how: 'quiet-stream', ...(last === undefined ? {} : { lastSequence: last }) };
      emit('writes-stopped', 'done', `no new stream record for ${formatDuration(quietMs / 1000)}`);
    }
    save();
  }

  // 3. drain ----------------------------------------------------------------------------------------
  if (!skip('drain')) {
    emit('drain', 'start', 'waiting for the queue to empty and the apply to catch up with the last stream record');
    const deadline = ports.now() + (opts.drainTimeoutMs ?? 1_800_000);
    // Twice in a row: a message between receive and delete shows as in flight, but one the pipe is
    // sending right now shows nowhere yet — the stream check covers that one.
    let quietPolls = 0;
    for (;;) {
      const s = await ports.status();
      const queued = s.queue === null ? null : totalDepth(s.queue);
      const { caughtUp, lastSequence } = queued === 0 ? await ports.caughtUpWithStream() : { caughtUp: false, lastSequence: undefined };
      quietPolls = queued === 0 && caughtUp ? quietPolls + 1 : 0;
      emit('drain', 'progress', `queue ${queued ?? 'unreadable'}${queued === 0 ? `, last stream record ${caughtUp ? 'applied' : 'not applied yet'}` : ''}`);
      if (quietPolls >= 2) {
        record.steps.drain = { at: iso(), ...(lastSequence === undefined ? {} : { lastSequence }) };
        break;
      }
      if (ports.now() > deadline) throw new CutoverStepError('drain', `the queue has not drained in ${formatDuration((opts.drainTimeoutMs ?? 1_800_000) / 1000)} (queue ${queued ?? 'unreadable'}); check \`ddb-replicate status\`, then run cutover again`);
      await wait(pollMs);
    }
    save();
    emit('drain', 'done', 'queue empty, apply caught up with the last stream record');
  }

  // 4. verify ---------------------------------------------------------------------------------------
  if (!skip('verify')) {
    emit('verify', 'start', opts.sample === undefined ? 'comparing every item of target and source' : `comparing a sample (${opts.sample}) of the items`);
    const result = await ports.verify(opts.sample);
    if (result.interrupted === true) throw new CliError('interrupted during verify; run cutover again to verify and freeze', EXIT.interrupted);
    if (!result.equal) {
      throw new CutoverStepError('verify', `the target differs from the source (${result.missing} missing, ${result.extra} extra, ${result.different} different); nothing was frozen. Run \`ddb-replicate verify --repair\`, wait for the queue to drain, then run cutover again`);
    }
    record.steps.verify = { at: iso(), ...result };
    save();
    emit('verify', 'done', `target equals source (${result.mode}, ${result.checked} items checked)`);
  }

  // 5. freeze ---------------------------------------------------------------------------------------
  if (!skip('freeze')) {
    emit('freeze', 'start', 'marking the target frozen and disabling its apply mapping');
    // The mark first: from here no apply writes, whatever the mapping does. A re-run keeps the first time.
    const existing = await ports.readFreeze();
    const frozenAt = existing.frozen && existing.frozenAt !== undefined ? existing.frozenAt : iso();
    if (!existing.frozen) await ports.freeze({ frozenAt, reason: 'cutover' });
    const mapping = await ports.disableApply();
    // An apply that read "not frozen" just before the mark may still be finishing its batch.
    const settleUntil = Date.parse(frozenAt) + ports.settleMs;
    while (ports.now() < settleUntil) {
      emit('freeze', 'progress', `waiting ${formatDuration((settleUntil - ports.now()) / 1000)} for every apply to see the mark`);
      await wait(Math.min(pollMs, settleUntil - ports.now()));
    }
    record.steps.freeze = { at: iso(), frozenAt, mapping };
    record.completedAt = iso();
    save();
    emit('freeze', 'done', `frozen at ${frozenAt}; apply mapping ${mapping}`);
  }
  return record;
}
