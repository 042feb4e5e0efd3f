import { cpus } from 'node:os';
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { setTimeout as sleep } from 'node:timers/promises';
import { toSdkAttributeMap } from '../../handlers/core/attribute-value';
import { lagPercentiles } from '../../common/format';
import { startLocalSession, type LocalSessionOptions } from '../../local/session';
import { BENCH_KEY_SCHEMA, makeItem } from '../lib/data';
import { BenchError } from '../lib/errors';
import { childPids, machineBusySeconds, processCpuSeconds } from '../lib/proc';
import { absoluteRow, type Row, type SectionResult } from '../lib/report';

/**
 * End to end in local mode: the real enrich and apply handlers behind the pipe and event-source
 * emulators, DynamoDB Local and fauxqs. Writes are driven at a fixed rate for a bounded time; lag
 * is the session's own (apply time − the driver's write time, docs/architecture.md#emulator-facts).
 */
export interface E2eBenchOptions {
  rates: number[];
  durationSeconds: number;
  /** Discarded warm-up at 200 changes/s. */
  warmupSeconds: number;
  /** Rates tried at each ParallelizationFactor (stopping at the first backlog). */
  pfRates: number[];
  itemBytes: number;
  log: (line: string) => void;
}

const MAX_IN_FLIGHT_WRITES = 64;
const DRAIN_TIMEOUT_MS = 90_000;
const TARGET_P99_MS = 1000;
const TARGET_RATE = 500;
/** A pipe with an SQS target batches at most 10 records (docs/aws-contracts.md, "Capacity planner"). */
const PIPE_BATCH_TO_SQS = 10;
/** Per pipe batch: enrichment invoke + SendMessageBatch on AWS, as `ddb-replicate plan` assumes it. */
const PIPE_BATCH_LATENCY_MS = 20;
const PIPE_BATCH_LATENCY_SOURCE = 'assumption shared with cli/plan/prices.us-east-1.json (enrichInvokeMs 10 + sqsSendBatchMs 10)';
const PF_COMPARED = [1, 4] as const;
const PF_GOAL_RATIO = 3;
/** The machine counts as CPU-bound when at least this share of its cores was busy. */
const CPU_BOUND_FRACTION = 0.9;

interface RateRun {
  rate: number;
  written: number;
  achievedRate: number;
  lagSamples: number;
  p50Ms: number | null;
  p99Ms: number | null;
  /** p99 over the first and the last third of the run's changes (in apply order). */
  p99FirstThirdMs: number | null;
  p99LastThirdMs: number | null;
  bounded: boolean;
  drainMs: number;
  maxQueueDepth: number;
  /** CPU seconds per second of the run, by process: where the machine's two cores went. */
  cpuCoresUsed: { bench: number | null; dynamodbLocal: number | null; fauxqs: number | null; everythingElse: number | null };
  /** All of the machine's busy cores during the run. */
  machineBusyCores: number | null;
}

type Session = Awaited<ReturnType<typeof startLocalSession>>;

/** Drives each rate in turn and measures lag, backlog and where the CPU went; optionally stops at the first backlog. */
async function measureRates(session: Session, rates: readonly number[], opts: E2eBenchOptions, label: string, stopAtFirstBacklog: boolean): Promise<RateRun[]> {
  const runs: RateRun[] = [];
  const javaPids = childPids(session.processIds.dynamodbLocalGroup);
  const cpuOf = (): { bench: number; dynamodbLocal: number | null; fauxqs: number | null; machine: number | null } => {
    const own = process.cpuUsage();
    const java = javaPids.map(processCpuSeconds);
    return {
      bench: (own.user + own.system) / 1e6,
      dynamodbLocal: java.length === 0 || java.some((v) => v === null) ? null : (java as number[]).reduce((a, b) => a + b, 0),
      fauxqs: processCpuSeconds(session.processIds.sqs),
      machine: machineBusySeconds(),
    };
  };
  for (const rate of rates) {
    const lagBefore = session.stats().lagMs.length;
    let maxQueueDepth = 0;
    const sampler = setInterval(() => { maxQueueDepth = Math.max(maxQueueDepth, session.stats().queueDepth); }, 250);
    const cpuBefore = cpuOf();
    const runStart = Date.now();
    const { written, seconds } = await drive(session, `${label}r${rate}`, rate, opts.durationSeconds, opts.itemBytes);
    const drainStart = Date.now();
    await session.waitForDrain({ timeoutMs: DRAIN_TIMEOUT_MS });
    const drainMs = Date.now() - drainStart;
    clearInterval(sampler);
    const cpuAfter = cpuOf();
    const wallSeconds = (Date.now() - runStart) / 1000;
    const perSecond = (a: number | null, b: number | null): number | null => (a === null || b === null ? null : (b - a) / wallSeconds);
    const bench = perSecond(cpuBefore.bench, cpuAfter.bench);
    const dynamodbLocal = perSecond(cpuBefore.dynamodbLocal, cpuAfter.dynamodbLocal);
    const fauxqs = perSecond(cpuBefore.fauxqs, cpuAfter.fauxqs);
    const machine = perSecond(cpuBefore.machine, cpuAfter.machine);
    // Other people's work on the same cores: what limits a shared machine most of the time.
    const everythingElse = machine === null || bench === null || dynamodbLocal === null || fauxqs === null ? null : Math.max(0, machine - bench - dynamodbLocal - fauxqs);
    const cpuCoresUsed = { bench, dynamodbLocal, fauxqs, everythingElse };
    const lag = session.stats().lagMs.slice(lagBefore);
    const third = Math.max(1, Math.floor(lag.length / 3));
    const all = lagPercentiles(lag);
    const first = lagPercentiles(lag.slice(0, third)).p99;
    const last = lagPercentiles(lag.slice(-third)).p99;
    const achievedRate = written / seconds;
    // Bounded: the driver kept the rate; the tail did not grow over the run (a backlog shows as a
    // rising p99); the queue never held more than a second of changes; and it drained within a second.
    const bounded = achievedRate >= 0.95 * rate && first !== null && last !== null && last <= 1.5 * first + 200 && maxQueueDepth <= rate && drainMs <= 1000;
    const run: RateRun = { rate, written, achievedRate, lagSamples: lag.length, p50Ms: all.p50, p99Ms: all.p99, p99FirstThirdMs: first, p99LastThirdMs: last, bounded, drainMs, maxQueueDepth, cpuCoresUsed, machineBusyCores: machine };
    runs.push(run);
    const cores = Object.entries(cpuCoresUsed).map(([k, v]) => `${k} ${v === null ? '?' : v.toFixed(2)}`).join(', ');
    opts.log(`e2e ${label}${rate}/s: wrote ${written} at ${achievedRate.toFixed(0)}/s, lag p50 ${all.p50} ms p99 ${all.p99} ms (first third ${first}, last third ${last}), drain ${drainMs} ms, max queue ${maxQueueDepth}; cores used: ${cores}`);
    if (stopAtFirstBacklog && !bounded) break;
  }
  return runs;
}

async function withSession<T>(pipe: Pick<LocalSessionOptions, 'pipeParallelizationFactor' | 'pipeBatchSize' | 'pipeBatchLatencyMs'> | undefined, opts: E2eBenchOptions, work: (session: Session) => Promise<T>): Promise<{ result: T; diff: { missing: number; extra: number; different: number } }> {
  const session = await startLocalSession({ keySchema: BENCH_KEY_SCHEMA, ...pipe });
  try {
    await session.startReplication();
    // Warm-up, discarded: the pipe and the apply path (JIT — DynamoDB Local's too —, connections, the one AssumeRole).
    await drive(session, 'warm', 200, opts.warmupSeconds, opts.itemBytes);
    await session.waitForDrain({ timeoutMs: DRAIN_TIMEOUT_MS });
    const result = await work(session);
    const diff = await session.diffTables();
    if (diff.missing + diff.extra + diff.different > 0) throw new BenchError(`target differs from source after the e2e runs: ${JSON.stringify({ ...diff, examples: undefined })}`);
    return { result, diff };
  } finally {
    await session.stop();
  }
}

const sustainedOf = (runs: readonly RateRun[]): number => runs.filter((r) => r.bounded).reduce((best, r) => Math.max(best, r.rate), 0);

export async function runE2eBench(opts: E2eBenchOptions): Promise<SectionResult> {
  const { result: runs, diff } = await withSession(undefined, opts, (session) => measureRates(session, opts.rates, opts, '', false));

  const sustained = sustainedOf(runs);
  const at500 = runs.find((r) => r.rate === TARGET_RATE);
  const rows: Row[] = runs.map((r) => absoluteRow(
    { section: 'e2e', metric: `lag p99 at ${r.rate}/s (p50 ${r.p50Ms ?? '–'} ms; achieved ${r.achievedRate.toFixed(0)}/s; ${r.bounded ? 'bounded' : 'backlog'})`, unit: 'ms', target: r.rate === TARGET_RATE ? `≤ ${TARGET_P99_MS} ms` : 'info' },
    r.p99Ms ?? Number.NaN,
    r.rate === TARGET_RATE ? r.p99Ms !== null && r.p99Ms <= TARGET_P99_MS : null,
  ));
  // When every rate tried was bounded the true limit is higher: say "≥".
  const atTop = sustained === Math.max(...opts.rates);
  rows.push(absoluteRow({ section: 'e2e', metric: `sustained rate (highest with bounded lag${atTop ? '; the highest rate tried, so ≥' : ''})`, unit: 'changes/s', target: at500 === undefined ? 'info' : `≥ ${TARGET_RATE}/s` }, sustained, at500 === undefined ? null : sustained >= TARGET_RATE));

  // ParallelizationFactor: the pipe with batches of 10 (the SQS-target maximum) and an assumed
  // PIPE_BATCH_LATENCY_MS per batch, at PF 1 and PF 4, each in its own session.
  const pfRuns: Record<number, RateRun[]> = {};
  for (const pf of PF_COMPARED) {
    pfRuns[pf] = (await withSession({ pipeParallelizationFactor: pf, pipeBatchSize: PIPE_BATCH_TO_SQS, pipeBatchLatencyMs: PIPE_BATCH_LATENCY_MS }, opts, (session) => measureRates(session, opts.pfRates, opts, `pf${pf} `, true))).result;
  }
  const [pfLow, pfHigh] = PF_COMPARED;
  const sustainedLow = sustainedOf(pfRuns[pfLow]);
  const sustainedHigh = sustainedOf(pfRuns[pfHigh]);
  for (const pf of PF_COMPARED) {
    const s = sustainedOf(pfRuns[pf]);
    rows.push(absoluteRow({ section: 'e2e', metric: `PF ${pf}: sustained rate, pipe batches of ${PIPE_BATCH_TO_SQS} at +${PIPE_BATCH_LATENCY_MS} ms each (assumed)${s === Math.max(...opts.pfRates) ? '; the highest rate tried, so ≥' : ''}`, unit: 'changes/s', target: 'info' }, s, null));
  }
  // CPU-bound: the first rate PF 4 could not sustain found the machine's cores (nearly) all busy.
  const highBacklog = pfRuns[pfHigh].find((r) => !r.bounded);
  const cpuBound = highBacklog !== undefined && highBacklog.machineBusyCores !== null && highBacklog.machineBusyCores >= CPU_BOUND_FRACTION * cpus().length;
  const ratio = sustainedLow > 0 ? sustainedHigh / sustainedLow : Number.NaN;
  const met = ratio >= PF_GOAL_RATIO;
  rows.push({
    section: 'e2e',
    metric: `PF ${pfHigh} vs PF ${pfLow}: sustained rate${cpuBound ? ` (CPU-bound at ${highBacklog.rate}/s: ${highBacklog.machineBusyCores!.toFixed(2)} of ${cpus().length} cores busy)` : ''}`,
    unit: 'changes/s', ours: sustainedHigh, baseline: sustainedLow, baselineLabel: `PF ${pfLow}`, ratio, ratioMin: null, ratioMax: null,
    // The goal holds while the emulator is not CPU-bound; when it is, the row reports that bound instead.
    target: !met && cpuBound ? 'info' : `≥ ${PF_GOAL_RATIO}×`,
    pass: met ? true : cpuBound ? null : false,
  });
  return {
    rows,
    data: {
      params: { rates: opts.rates, pfRates: opts.pfRates, durationSeconds: opts.durationSeconds, warmupSeconds: opts.warmupSeconds, itemBytes: opts.itemBytes, maxInFlightWrites: MAX_IN_FLIGHT_WRITES, pipeBatchSize: PIPE_BATCH_TO_SQS, pipeBatchLatencyMs: PIPE_BATCH_LATENCY_MS, pipeBatchLatencySource: PIPE_BATCH_LATENCY_SOURCE },
      runs,
      sustainedRate: sustained,
      parallelization: { runs: pfRuns, sustained: { [pfLow]: sustainedLow, [pfHigh]: sustainedHigh }, ratio, cpuBound },
      finalDiff: diff,
    },
  };
}

/**
 * Writes 1 KB items with PutItem at `rate` per second for `seconds`: on a 10 ms tick it issues the
 * writes due by now, at most MAX_IN_FLIGHT_WRITES outstanding (if DynamoDB Local cannot keep up,
 * the achieved rate says so). Each write is noted before it is sent, so the pipe can pair it.
 */
async function drive(session: Session, prefix: string, rate: number, seconds: number, itemBytes: number): Promise<{ written: number; seconds: number }> {
  const total = Math.round(rate * seconds);
  let issued = 0;
  let done = 0;
  let inFlight = 0;
  let failure: unknown;
  const started = Date.now();
  const pending = new Set<Promise<void>>();
  while (issued < total && failure === undefined) {
    const due = Math.min(total, Math.floor(((Date.now() - started) / 1000) * rate) + 1);
    while (issued < due && inFlight < MAX_IN_FLIGHT_WRITES) {
      const item = makeItem(`${prefix}-${String(issued).padStart(7, '0')}`, itemBytes, issued + 1);
      issued++;
      inFlight++;
      session.noteWrite({ pk: item.pk }, Date.now());
      const p = session.sourceClient.send(new PutItemCommand({ TableName: session.sourceTableName, Item: toSdkAttributeMap(item) }))
        .then(() => { done++; }, (error: unknown) => { failure ??= error; })
        .finally(() => { inFlight--; pending.delete(p); });
      pending.add(p);
    }
    await sleep(10);
  }
  await Promise.all(pending);
  if (failure !== undefined) throw new BenchError('a driver write failed', { cause: failure });
  return { written: done, seconds: (Date.now() - started) / 1000 };
}
