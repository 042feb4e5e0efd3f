import { createHash } from 'node:crypto';
import { DynamoDBClient, type BatchWriteItemCommandOutput } from '@aws-sdk/client-dynamodb';
import type { DynamoDBRecord, SQSRecord } from 'aws-lambda';
import { applyBatch, type ApplyDeps } from '../../handlers/core/apply-batch';
import { decodeEnvelope } from '../../handlers/core/envelope';
import { createLogger } from '../../handlers/core/logger';
import { createReplicationMetrics, metricsSinkFromEnv } from '../../handlers/core/metrics';
import { changeEnvelopeV1Schema } from '../../schemas/change-envelope.v1';
import { BENCH_KEY_SCHEMA, BENCH_SOURCE_TABLE, chunk, makeItem, sqsRecordFor, streamRecord } from '../lib/data';
import { setEnv } from '../lib/ddb';
import { BenchError } from '../lib/errors';
import { absoluteRow, ratioRow, type SectionResult } from '../lib/report';
import { ratioSummary, summarize, type Summary } from '../lib/stats';

/**
 * Handler CPU per change with no network: the enrich handler (as Lambda loads it, logs SILENT) on
 * batches of stream records (parsed from JSON and its result serialised, as the runtime does), and the apply core on batches of 10 SQS records writing through a
 * DynamoDBClient whose `send` answers at once with no UnprocessedItems (metrics sink off). The
 * stub skips the SDK's request serialisation, so this is our code's cost alone. Enrich is held to a
 * ratio against a minimal enrichment measured in the same repetitions (hash the key, return the new
 * image), because absolute microseconds move several-fold from one machine to the next; apply's
 * CPU target is a ratio in the apply section (against parse + BatchWriteItem).
 */
export interface CpuBenchOptions {
  /** Distinct batches generated per size (cycled through). */
  batches: number;
  /** Timed samples per case; each sample runs `changesPerSample` changes. */
  reps: number;
  /** Changes per timed sample, per item size. */
  changesPerSample: Record<string, number>;
  sizes: Record<string, number>;
  log: (line: string) => void;
}

const BATCH = 10;
/** Enrich CPU per record at most this many times the minimal enrichment's (1 KB). */
const MAX_ENRICH_RATIO = 2;

type Case = { kind: 'enrich' | 'apply' | 'minimalEnrich'; size: string };

/** The least an enrichment does: a group id from the key, the new image passed on. */
function minimalEnrich(records: readonly DynamoDBRecord[]): { groupId: string; image: unknown }[] {
  return records.map((r) => ({ groupId: createHash('sha256').update(JSON.stringify(r.dynamodb?.Keys)).digest('base64url'), image: r.dynamodb?.NewImage }));
}

export async function runCpuBench(opts: CpuBenchOptions): Promise<SectionResult> {
  const restore = setEnv({ KEY_SCHEMA: JSON.stringify(BENCH_KEY_SCHEMA), SOURCE_TABLE_NAME: BENCH_SOURCE_TABLE, LOG_LEVEL: 'SILENT', TARGET_FILTER: undefined, RESYNC_THRESHOLD_BYTES: undefined });
  // The handler module reads its configuration at load, as in Lambda.
  const enrich = (await import('../../handlers/enrich')).handler;
  restore();

  const nullClient = new DynamoDBClient({ region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
  const emptyAnswer: Partial<BatchWriteItemCommandOutput> = { UnprocessedItems: {} };
  nullClient.send = () => Promise.resolve(emptyAnswer);
  const deps: ApplyDeps = {
    config: { sourceTableName: BENCH_SOURCE_TABLE, targetTableName: 'target', keySchema: BENCH_KEY_SCHEMA },
    targetClient: nullClient,
    sourceClient: nullClient,
    metrics: createReplicationMetrics({ namespace: 'Bench', replication: 'bench', target: 'bench', sink: metricsSinkFromEnv({ METRICS_SINK: 'off' }) }),
    logger: createLogger('ddb-replication-apply', { LOG_LEVEL: 'SILENT' }),
  };

  const streamBatches: Record<string, DynamoDBRecord[][]> = {};
  const streamBatchJson: Record<string, string[]> = {};
  const sqsBatches: Record<string, SQSRecord[][]> = {};
  let seq = 0;
  for (const [size, bytes] of Object.entries(opts.sizes)) {
    const records = Array.from({ length: opts.batches * BATCH }, (_, i) => {
      seq++;
      // Every other record a MODIFY with its old image, as NEW_AND_OLD_IMAGES delivers it.
      return streamRecord(makeItem(`cpu-${size}-${i}`, bytes, seq), seq, i % 2 === 1 ? makeItem(`cpu-${size}-${i}`, bytes, seq + 7) : undefined);
    });
    streamBatches[size] = chunk(records, BATCH);
    streamBatchJson[size] = streamBatches[size].map((batch) => JSON.stringify(batch));
    sqsBatches[size] = chunk(records.map(sqsRecordFor), BATCH);
  }

  // One timed sample: `changes` changes through the handler, batch after batch. Two clocks: wall
  // (hrtime) and this process's CPU time (user + system, GC threads included) — on a shared machine
  // the wall clock also counts the time the scheduler gave our core to someone else.
  const sample = async ({ kind, size }: Case, changes: number): Promise<{ wall: number; cpu: number }> => {
    const batches = kind === 'apply' ? sqsBatches[size] : streamBatches[size];
    const calls = Math.max(1, Math.round(changes / BATCH));
    const cpuStart = process.cpuUsage();
    const started = process.hrtime.bigint();
    for (let i = 0; i < calls; i++) {
      if (kind === 'enrich' || kind === 'minimalEnrich') {
        // As Lambda runs an enrichment: the runtime parses the event and serialises the result in the
        // function's process, so both variants pay that too.
        const event = JSON.parse(streamBatchJson[size][i % batches.length]) as DynamoDBRecord[];
        const out = kind === 'enrich' ? await enrich(event) : await Promise.resolve(minimalEnrich(event));
        if (out.length !== BATCH || JSON.stringify(out).length === 0) throw new BenchError(`${kind} returned the wrong number of records`);
      } else {
        const out = await applyBatch(sqsBatches[size][i % batches.length], 60_000, deps);
        if (out.batchItemFailures.length > 0) throw new BenchError('apply reported failures against the null sink');
      }
    }
    const wallUs = Number(process.hrtime.bigint() - started) / 1000;
    const cpu = process.cpuUsage(cpuStart);
    return { wall: wallUs / (calls * BATCH), cpu: (cpu.user + cpu.system) / (calls * BATCH) };
  };

  const cases: Case[] = Object.keys(opts.sizes).flatMap((size) => [{ kind: 'enrich' as const, size }, { kind: 'minimalEnrich' as const, size }, { kind: 'apply' as const, size }]);
  // Warm-up: enough calls for the JIT to settle on every path.
  for (const c of cases) await sample(c, (opts.changesPerSample[c.size] ?? 1000) / 2);
  const wall = new Map<string, number[]>(cases.map((c) => [`${c.kind}/${c.size}`, []]));
  const cpu = new Map<string, number[]>(cases.map((c) => [`${c.kind}/${c.size}`, []]));
  for (let rep = 0; rep < opts.reps; rep++) {
    // Interleaved: every case once per repetition, so a burst of load elsewhere hits them all alike.
    for (const c of cases) {
      const us = await sample(c, opts.changesPerSample[c.size] ?? 1000);
      wall.get(`${c.kind}/${c.size}`)!.push(us.wall);
      cpu.get(`${c.kind}/${c.size}`)!.push(us.cpu);
    }
    opts.log(`cpu rep ${rep + 1}/${opts.reps}: ${[...cpu].map(([k, v]) => `${k} ${v[v.length - 1].toFixed(1)} µs`).join(', ')}`);
  }

  // What the fast path of envelope validation saves: decodeEnvelope as it is, against JSON.parse +
  // the zod schema alone (the path every message took before; the schema still decides the rest).
  const bodies = sqsBatches['1KB'].flat().map((r) => r.body);
  const decodeSample = (viaSchema: boolean): number => {
    const rounds = Math.max(1, Math.round((opts.changesPerSample['1KB'] ?? 1000) / bodies.length));
    const cpuStart = process.cpuUsage();
    for (let round = 0; round < rounds; round++) {
      for (const body of bodies) {
        if (viaSchema) {
          if (!changeEnvelopeV1Schema.safeParse(JSON.parse(body)).success) throw new BenchError('schema rejected a bench envelope');
        } else {
          decodeEnvelope(body);
        }
      }
    }
    const used = process.cpuUsage(cpuStart);
    return (used.user + used.system) / (rounds * bodies.length);
  };
  decodeSample(true);
  decodeSample(false);
  const decodeFast: number[] = [];
  const decodeSchema: number[] = [];
  for (let rep = 0; rep < opts.reps; rep++) {
    decodeSchema.push(decodeSample(true));
    decodeFast.push(decodeSample(false));
  }

  const summarizeAll = (m: Map<string, number[]>): Record<string, Summary> => Object.fromEntries([...m].map(([k, v]) => [k, summarize(v)]));
  const wallUs = summarizeAll(wall);
  const cpuUs = summarizeAll(cpu);
  const rows = cases.map((c) => {
    const key = `${c.kind}/${c.size}`;
    const s = cpuUs[key];
    const w = wallUs[key];
    return absoluteRow(
      {
        section: 'cpu',
        metric: `${c.kind === 'minimalEnrich' ? 'minimal enrichment (hash key, pass image)' : c.kind} CPU per ${c.kind === 'apply' ? 'change' : 'record'}, ${c.size} (IQR ${s.q1.toFixed(1)}–${s.q3.toFixed(1)}; wall median ${w.median.toFixed(1)}, min ${w.min.toFixed(1)})`,
        unit: 'µs',
        target: 'info',
      },
      s.median,
      null,
    );
  });
  // Lower is better: enrich's CPU over the minimal enrichment's, per repetition.
  const enrichRatio = ratioSummary(cpu.get('enrich/1KB')!, cpu.get('minimalEnrich/1KB')!);
  rows.push({
    ...ratioRow({ section: 'cpu', metric: 'enrich CPU per record, 1KB, vs minimal enrichment (ratio = extra cost)', unit: 'µs', baselineLabel: 'hash key + image', target: `≤ ${MAX_ENRICH_RATIO}×` }, cpuUs['enrich/1KB'], cpuUs['minimalEnrich/1KB'], enrichRatio, null),
    pass: enrichRatio.median <= MAX_ENRICH_RATIO,
  });
  const fast = summarize(decodeFast);
  const schema = summarize(decodeSchema);
  rows.push(ratioRow(
    { section: 'cpu', metric: 'envelope decode CPU, 1KB: fast path vs schema alone (ratio = speed-up)', unit: 'µs', baselineLabel: 'JSON.parse+zod', target: 'info' },
    fast, schema, ratioSummary(decodeSchema, decodeFast), null,
  ));
  return {
    rows,
    data: {
      decodeMicroseconds: { fastPath: fast, schemaOnly: schema },
      params: { batchSize: BATCH, distinctBatches: opts.batches, reps: opts.reps, changesPerSample: opts.changesPerSample, itemBytes: opts.sizes },
      cpuMicrosecondsPerChange: cpuUs,
      enrichVsMinimalRatio: enrichRatio,
      wallMicrosecondsPerChange: wallUs,
    },
  };
}
