import { setTimeout as sleep } from 'node:timers/promises';
import { FaultInjector } from '../../local/faults';
import { formatMs, lagPercentiles } from '../../common/format';
import { formatTable } from '../table';
import { ProgressLine } from './progress-line';
import type { DeployedDefinition } from '../../local/deployed-definition';
import { startLocalSession, type LocalSession, type LocalStats } from '../../local/session';
import type { DeliveryMode } from '../../schemas/replication-config';
import { localBootstrapPorts } from './bootstrap-ports';
import { watchParent } from '../../local/cleanup';
import { runBootstrap } from '../bootstrap/orchestrator';
import { applyOps, writeSeedItems, type WorkloadSink } from '../../local/workload';
import { startSampledVerifier, type SampledVerifier } from '../../local/sampled-verifier';
import { TargetDrift } from '../../local/target-drift';
import { CliError, EXIT, exitCodeFor } from '../errors';
import type { CliIo } from '../index';
import { buildInputPlan, type InputPlan, type InputPlanOptions } from './input-plan';

/** Options of `ddb-replicate local`, as commander hands them over. */
export interface LocalRunOptions extends InputPlanOptions {
  bootstrap?: boolean;
  json?: boolean;
  timeout: number;
  /** Replicate to this many targets, fanned out as in AWS (docs/fan-out.md). @default 1 */
  targets?: number;
  /** Emulator diagnostics on stderr. */
  debug?: boolean;
  /** options.delivery of every target (issue 12 §5). @default 'pipe-target' */
  delivery?: DeliveryMode;
  /** Run the scheduled sampled verification (handlers/sampled-verify.ts) every `verifyEvery` seconds. */
  sampledVerify?: boolean;
  /** @default 2 */
  verifyEvery?: number;
  /** With sampledVerify: RESYNC each confirmed mismatch (continuousVerify.autoRepair). */
  autoRepair?: boolean;
}

/** The `--json` line (docs/architecture.md#local-mode). */
export interface LocalRunResult {
  seeded: number;
  ops: number;
  applied: number;
  dlq: number;
  diffs: number;
  lagP50Ms: number | null;
  lagP99Ms: number | null;
  seconds: number;
  /** With --sampled-verify: items compared, confirmed mismatches and RESYNCs enqueued, over every run. */
  verifySampled?: number;
  verifyMismatches?: number;
  repaired?: number;
}

const DIFF_EXAMPLES = 10;
/** Local tables are small: a sample this large covers them whole, so the final runs see every drift. */
const LOCAL_SAMPLE_SIZE = 1000;
const LOCAL_SETTLE_SECONDS = 1;
/** After the workload: verify (and repair) again until a run finds nothing, at most this often. */
const FINAL_VERIFY_RUNS = 5;
const PROGRESS_TICK_MS = 250;
const STOP_GRACE_MS = 3000;
/** The one local setting that differs from the template (session.localOverrides says so in the summary). */
const LOCAL_VISIBILITY_TIMEOUT_SECONDS = 2;

export async function runLocal(opts: LocalRunOptions, io: CliIo): Promise<number> {
  const startedAt = Date.now();
  // --json promises one line on stdout, failures included: the error, the exit code, the counts known.
  const failed = (error: unknown, counts: Record<string, number> = {}): unknown => {
    if (opts.json === true) io.stdout.write(`${JSON.stringify({ error: error instanceof Error ? error.message : String(error), exitCode: exitCodeFor(error), ...counts })}\n`);
    return error;
  };
  // Everything is validated before anything starts: bad input costs nothing and writes nothing.
  let plan: InputPlan;
  const targetCount = opts.targets ?? 1;
  try {
    plan = await buildInputPlan(opts);
    if (targetCount > 1 && opts.bootstrap === true) {
      throw new CliError('--bootstrap copies into one target table; run it without --targets (or with --targets 1)', EXIT.badInput);
    }
    if (opts.sampledVerify === true && (targetCount > 1 || opts.bootstrap === true)) {
      throw new CliError('--sampled-verify runs with one target and without --bootstrap; drop --targets / --bootstrap', EXIT.badInput);
    }
  } catch (error) {
    throw failed(error);
  }
  const { seed, faults } = plan;

  const showProgress = opts.json !== true || io.stderr.isTTY === true;
  const progress = new ProgressLine(io.stderr, { phase: 'starting emulators' });
  let phase = 'starting the emulators';
  let session: LocalSession | undefined;
  let seeded = 0;
  let opsWritten = 0;
  let itemsCopied: number | undefined;
  const setPhase = (text: string, label: string): void => {
    phase = text;
    progress.setPhase(label);
  };

  const knownCounts = (): Record<string, number> => {
    const stats = session?.stats();
    return { seeded, ops: opsWritten, ...(stats === undefined ? {} : { applied: stats.messagesApplied, dlq: stats.deadLettered }) };
  };

  const interrupt = new AbortController();
  const onSignal = (signal: NodeJS.Signals | 'parent exited'): void => {
    const code = signal === 'SIGINT' ? EXIT.interrupted : EXIT.terminated;
    // A second Ctrl-C while stopping: stop waiting. local/cleanup.ts kills the emulators on exit.
    if (interrupt.signal.aborted) process.exit(code);
    interrupt.abort(new CliError(signal === 'parent exited' ? 'stopped (the parent process exited)' : `interrupted (${signal})`, code));
  };
  // Orphaned (e.g. `npm run demo` got SIGTERM and exited at once): shut down as on a signal.
  const unwatchParent = watchParent(() => onSignal('parent exited'));
  // `on`, not `once`: local/cleanup.ts re-raises a signal nobody else listens for, and a `once`
  // listener is gone by the time it looks — we would die before reporting.
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const timeoutTimer = setTimeout(() => interrupt.abort(new CliError(`timed out after ${opts.timeout} s (--timeout)`, EXIT.failure)), opts.timeout * 1000);
  let ticker: NodeJS.Timeout | undefined;
  let verifier: SampledVerifier | undefined;
  let drift: TargetDrift | undefined;
  // Drain waits get a little longer than --timeout, so that its own message (with the state) wins.
  const remainingMs = (): number => Math.max(1000, startedAt + opts.timeout * 1000 - Date.now()) + 5000;

  const work = (async () => {
    const onLog = opts.debug === true ? (line: string) => void io.stderr.write(`${line}\n`) : undefined;
    // Several targets: t1 and t2 would own a pipe each in AWS; locally one pipe emulator reads the
    // stream and its enrichment delivers to the other targets' queues, as an attached pipe does.
    const targets = targetCount > 1 ? Array.from({ length: targetCount }, (_, i) => ({ name: `t${i + 1}` })) : undefined;
    session = await startLocalSession({
      keySchema: plan.keySchema, faults, seed, onLog, targets,
      // Explicit local override of the template (listed in the summary): seconds, not minutes, per retried batch.
      visibilityTimeoutSeconds: LOCAL_VISIBILITY_TIMEOUT_SECONDS,
      ...(opts.delivery === undefined ? {} : { delivery: opts.delivery }),
      // --bootstrap: the pipe is deployed onto a table that has items, starting at LATEST (the template says so).
      ...(opts.bootstrap === true ? { startingPosition: 'LATEST' as const } : {}),
    });
    if (interrupt.signal.aborted) return undefined;
    if (showProgress) {
      ticker = setInterval(() => session !== undefined && progress.update(session.stats()), PROGRESS_TICK_MS);
    }
    setPhase('writing the seed items to the source', 'seeding');
    await writeSeedItems(session, plan.seedItems(), {
      keySchema: plan.keySchema,
      signal: interrupt.signal,
      onWritten: (n) => {
        progress.addWritten(n);
        seeded += n;
      },
    });
    if ((faults.targetDrift ?? 0) > 0) {
      drift = new TargetDrift({ client: session.targetClient, tableName: session.targetTableName, keySchema: plan.keySchema, faults: new FaultInjector(faults, seed) });
    }
    // The driver's writes, noting each key for the drift fault too.
    const sink: WorkloadSink = {
      sourceClient: session.sourceClient,
      sourceTableName: session.sourceTableName,
      noteWrite: (keys, atMs) => {
        session!.noteWrite(keys, atMs);
        drift?.noteWrite(keys);
      },
    };
    const writeOps = (): Promise<number> =>
      applyOps(sink, plan.ops(), {
        keySchema: plan.keySchema,
        locate: (op) => plan.locate(op),
        signal: interrupt.signal,
        onWritten: (n) => {
          progress.addWritten(n);
          opsWritten += n;
        },
      });
    if (opts.bootstrap === true) {
      // As in AWS with a pipe started at deploy time: the stream is read from "now", so the seed items
      // reach the target only through the initial load. The ops run during the bootstrap; they
      // buffer in the queue while the apply is paused and replay over the copy.
      setPhase('starting replication', 'starting pipe');
      await session.startReplication();
      const ports = localBootstrapPorts(session, { keySchema: plan.keySchema });
      try {
        const bootstrapping = runBootstrap({
          ports,
          pollIntervalMs: PROGRESS_TICK_MS,
          signal: interrupt.signal,
          onEvent: (event) => {
            if (event.kind === 'step') setPhase(`bootstrapping (${event.message})`, `bootstrap: ${event.step}`);
            if (event.kind === 'copy-progress' && event.itemsCopied !== undefined) itemsCopied = event.itemsCopied;
          },
        });
        await Promise.all([bootstrapping.then((summary) => (itemsCopied = summary.itemsCopied ?? itemsCopied)), writeOps()]);
      } finally {
        ports.close();
      }
    } else {
      setPhase('starting replication', 'starting pipe');
      await session.startReplication();
      if (opts.sampledVerify === true) {
        verifier = startSampledVerifier(session, { everyMs: (opts.verifyEvery ?? 2) * 1000, sampleSize: LOCAL_SAMPLE_SIZE, settleSeconds: LOCAL_SETTLE_SECONDS, autoRepair: opts.autoRepair === true });
      }
      if (seeded > 0) {
        // Seed items replicate first (the pipe reads from TRIM_HORIZON); the ops start once they have,
        // so each lag sample belongs to an op and not to a seed record still in transit.
        setPhase('replicating the seed items', 'replicating seed');
        await session.waitForDrain({ timeoutMs: remainingMs() });
      }
      setPhase('writing the ops to the source', 'ops');
      await writeOps();
    }
    setPhase('waiting for replication to drain', 'draining');
    await drift?.settle();
    await session.waitForDrain({ timeoutMs: remainingMs() });
    if (verifier !== undefined) {
      // The schedule stops; then runs until one finds nothing (each repair drained first), as the next scheduled runs would.
      setPhase('sampled verification after the workload', 'sampled verify');
      await verifier.stop();
      for (let run = 0; run < FINAL_VERIFY_RUNS; run++) {
        const result = await verifier.runOnce();
        if (result.mismatches === 0 || opts.autoRepair !== true) break;
        await session.waitForDrain({ timeoutMs: remainingMs() });
      }
    }
    setPhase('comparing target with source', 'verifying');
    if (targets === undefined) return session.diffTables({ limit: DIFF_EXAMPLES });
    // Every target is checked; the examples name the target they come from.
    const diffs = await Promise.all(session.targets.map(async (t) => ({ target: t.name, diff: await session!.diffTables({ limit: DIFF_EXAMPLES, target: t.name }) })));
    return {
      missing: diffs.reduce((n, d) => n + d.diff.missing, 0),
      extra: diffs.reduce((n, d) => n + d.diff.extra, 0),
      different: diffs.reduce((n, d) => n + d.diff.different, 0),
      examples: diffs.flatMap((d) => d.diff.examples.map((e) => ({ ...e, target: d.target }))).slice(0, DIFF_EXAMPLES),
    };
  })();

  try {
    const diff = await untilAborted(work, interrupt.signal);
    const stats = session!.stats();
    if (showProgress) {
      progress.update(stats, true);
      progress.done();
    }
    const { p50, p99 } = lagPercentiles(stats.lagMs);
    const diffs = diff!.missing + diff!.extra + diff!.different;
    const result: LocalRunResult = {
      seeded,
      ops: opsWritten,
      applied: stats.messagesApplied,
      dlq: stats.deadLettered,
      diffs,
      lagP50Ms: p50,
      lagP99Ms: p99,
      seconds: Math.round((Date.now() - startedAt) / 100) / 10,
      ...(verifier === undefined ? {} : { verifySampled: verifier.totals().sampled, verifyMismatches: verifier.totals().mismatches, repaired: verifier.totals().repaired }),
    };
    if (opts.json === true) {
      io.stdout.write(`${JSON.stringify(result)}\n`);
    } else {
      io.stdout.write(`${summary(plan, opts, seed, result, stats, itemsCopied, session!)}\n`);
    }
    if (diffs > 0) {
      io.stderr.write(`target differs from source: ${diff!.missing} missing, ${diff!.extra} extra, ${diff!.different} different. First keys:\n`);
      for (const example of diff!.examples) {
        const where = 'target' in example ? `${String(example.target)}: ` : '';
        io.stderr.write(`  ${where}${example.kind.padEnd(9)} ${JSON.stringify(example.keys)}\n`);
      }
      return EXIT.failure;
    }
    return EXIT.ok;
  } catch (error) {
    if (showProgress) progress.done();
    if (interrupt.signal.aborted) {
      const reason = interrupt.signal.reason as CliError;
      const stats = session?.stats();
      const state = [`${reason.message} while ${phase}`, `seed items written ${seeded}/${plan.seedCount}`, `ops written ${opsWritten}/${plan.opCount}`];
      if (stats !== undefined) state.push(`applied ${stats.messagesApplied}`, `queue ${stats.queueDepth}`, `in flight ${stats.inFlight}`, `DLQ ${stats.deadLettered}`);
      // Said before stopping (which can take a few seconds), so the user sees at once where it was.
      io.stderr.write(`error: ${state.join('; ')}. Stopping the emulators…\n`);
      failed(new CliError(`${reason.message} while ${phase}`, reason.exitCode), knownCounts());
      return reason.exitCode;
    }
    throw failed(new CliError(`local run failed while ${phase}: ${error instanceof Error ? error.message : String(error)}`, EXIT.failure, { cause: error }), knownCounts());
  } finally {
    clearTimeout(timeoutTimer);
    clearInterval(ticker);
    // Stopped already after a complete run; here after a failure or an interruption (its error is not the story then).
    await verifier?.stop().catch(() => undefined);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    unwatchParent();
    if (interrupt.signal.aborted) {
      // The work may still be starting the session or writing: stop the session once it settles too
      // (its outcome was already reported as the interruption).
      void work.then(() => session?.stop(), () => session?.stop());
    }
    const stoppedBy = (interrupt.signal.reason as CliError | undefined)?.exitCode;
    if (stoppedBy === EXIT.interrupted || stoppedBy === EXIT.terminated) {
      // On a signal local/cleanup.ts has already killed the emulators, and a graceful stop can hang on
      // work in flight against them: wait briefly, then leave (bin/ddb-replicate.js exits on 130).
      const stopped = session?.stop().then(() => true, () => true) ?? Promise.resolve(true);
      if (!(await Promise.race([stopped, sleep(STOP_GRACE_MS).then(() => false)]))) {
        io.stderr.write(`emulators killed; work in flight after ${STOP_GRACE_MS / 1000} s was abandoned\n`);
      }
    } else {
      await session?.stop();
    }
  }
}

/** Resolves with `work`, or rejects with the abort reason as soon as `signal` aborts. */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(abortReason(signal));
  let onAbort = (): void => undefined;
  const aborted = new Promise<never>((_resolve, reject) => {
    onAbort = () => reject(abortReason(signal));
    signal.addEventListener('abort', onAbort, { once: true });
  });
  return Promise.race([work, aborted]).finally(() => signal.removeEventListener('abort', onAbort));
}

/** The interrupt aborts with a CliError; anything else is wrapped so a rejection is always an Error. */
function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason : new Error(`aborted: ${String(reason)}`, { cause: reason });
}

function summary(plan: InputPlan, opts: LocalRunOptions, seed: number, result: LocalRunResult, stats: LocalStats, itemsCopied: number | undefined, session: LocalSession): string {
  const key = [plan.keySchema.partitionKey, plan.keySchema.sortKey].filter((k) => k !== undefined).map((k) => `${k.name}:${k.type}`).join(', ');
  const targets = opts.targets ?? 1;
  const verdict = targets > 1
    ? (result.diffs === 0 ? `all ${targets} targets equal the source ✓` : `targets differ from the source ✗ (${result.diffs} keys)`)
    : (result.diffs === 0 ? 'target equals source ✓' : `target differs from source ✗ (${result.diffs} keys)`);
  return [
    `ddb-replicate local — ${verdict}`,
    formatTable([
      ['ran', plan.description],
      ['key schema', key],
      ...(targets > 1 ? [['targets', `${targets} (t1…t${targets}): ${session.definition.pipes.length} pipe(s) as the template has them, further targets fed by an owner's enrichment; each with its own apply`] as const] : []),
      ['template', describeTemplate(session.definition, opts.delivery ?? 'pipe-target')],
      ...session.localOverrides.map((line) => ['local override', line] as const),
      ['faults', opts.faults === undefined ? 'none' : `${opts.faults} → ${describeInjected(stats.faults)}`],
      ['written', `${result.seeded} seed items, ${result.ops} ops`],
      ...(opts.bootstrap === true ? [['bootstrap', `${itemsCopied ?? 0} items copied by the initial load (direct engine), apply paused meanwhile`] as const] : []),
      ['applied', `${result.applied} changes${targets > 1 ? ' (all targets)' : ''} in ${stats.applyInvocations} apply invocations (${stats.applyFailures} failed and retried)`],
      ['DLQ', String(result.dlq)],
      ...(result.verifySampled === undefined ? [] : [['sampled verify', `${result.verifySampled} items compared, ${result.verifyMismatches} confirmed mismatches, ${result.repaired} RESYNCs enqueued${opts.autoRepair === true ? '' : ' (no --auto-repair)'}`] as const]),
      ['lag', `p50 ${formatMs(result.lagP50Ms)} · p99 ${formatMs(result.lagP99Ms)}`],
      ['time', `${result.seconds} s`],
      ['seed', `${seed} (repeat with --seed ${seed})`],
    ]),
  ].join('\n');
}

function describeTemplate(definition: DeployedDefinition, delivery: DeliveryMode): string {
  const pipe = definition.pipes[0];
  const target = definition.targets[0];
  if (pipe === undefined || target === undefined) return 'no pipe';
  return `pipe batch ${pipe.batchSize} from ${pipe.startingPosition}, ${pipe.maximumRetryAttempts} retries${pipe.bisectOnFailure ? ' with bisect' : ''}, ${pipe.filterPatterns?.length ?? 0} filter pattern(s); ` +
    `apply batch ${target.eventSourceMapping.batchSize}, timeout ${target.applyFunction.timeoutSeconds} s; maxReceiveCount ${target.queue.redrive?.maxReceiveCount ?? '-'}; delivery ${delivery}`;
}

function describeInjected(f: LocalStats['faults']): string {
  return `injected: ${f.throttled} throttled + ${f.partial} partial batch writes, ${f.crashed} crashes mid-batch, ${f.duplicateDeliveries} duplicate deliveries, ${f.enrichFailures} enrichment failures, ${f.poisonSent} poison messages`;
}
