import { DeleteItemCommand, DynamoDBClient, PutItemCommand, type WriteRequest } from '@aws-sdk/client-dynamodb';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import type { SQSRecord } from 'aws-lambda';
import { applyBatch, type ApplyDeps } from '../../handlers/core/apply-batch';
import { toSdkAttributeMap } from '../../handlers/core/attribute-value';
import { targetCredentials } from '../../handlers/core/credentials';
import { createLogger } from '../../handlers/core/logger';
import { createReplicationMetrics, metricsSinkFromEnv, type BatchMetrics, type ReplicationMetrics } from '../../handlers/core/metrics';
import { startStsLocal } from '../../local/sts-local';
import type { ChangeEnvelopeV1 } from '../../schemas/change-envelope.v1';
import { BENCH_KEY_SCHEMA, BENCH_SOURCE_TABLE, chunk, makeItem, runLoops, sqsRecordFor, streamRecord } from '../lib/data';
import { BENCH_REGION, createTable, deleteTable, LOCAL_CREDENTIALS, plainClient, rawBatchWrite, setEnv } from '../lib/ddb';
import { ratioRow, type SectionResult } from '../lib/report';
import { ratioSummary, rotation, summarize } from '../lib/stats';
import { BenchError } from '../lib/errors';
import { childPids, processCpuSeconds } from '../lib/proc';

/**
 * Apply throughput on DynamoDB Local, all variants on the same changes, the same concurrency, and
 * batches of 10 SQS-shaped records as the event source delivers them:
 * - apply: the real core (`applyBatch`: decode, coalesce, BatchWriteItem with retries) through a
 *   client whose credentials come from the real `targetCredentials` provider (local STS);
 * - ceilingBodies10: BatchWriteItem of requests built from the message bodies (JSON.parse, image →
 *   SDK form) — the least any consumer of the queue must do, 10 per call: the fair ceiling;
 * - ceiling10 / ceiling25: nothing but BatchWriteItem of the pre-built requests, 10 (what apply
 *   gets per invocation) or 25 (the API maximum) per call;
 * - perRecord: the original sample — one AssumeRole and a new client per invocation, then one
 *   PutItem/DeleteItem per record, in sequence.
 */
export interface ApplyBenchOptions {
  endpoint: string;
  /** DynamoDB Local's supervisor pid (its java child's CPU is accounted per variant). */
  dynamodbLocalPid: number;
  changes: number;
  hotChanges: number;
  reps: number;
  concurrency: number;
  itemBytes: number;
  log: (line: string) => void;
}

const ROLE = { roleArn: 'arn:aws:iam::222222222222:role/ddbrepl-bench-target', externalId: 'bench-external-id' } as const;
const BATCH = 10;
const HOT_KEYS_PER_LANE = 4;

type Variant = 'apply' | 'ceilingBodies10' | 'ceiling10' | 'ceiling25' | 'perRecord';

/** Sums what applyBatch reports, then hands it to the real (discarding) EMF metrics. */
class CountingMetrics implements ReplicationMetrics {
  applied = 0;
  coalesced = 0;
  failures = 0;
  constructor(private readonly inner: ReplicationMetrics) {}
  publish(metrics: BatchMetrics): Promise<void> {
    this.applied += metrics.changesApplied;
    this.coalesced += metrics.changesCoalesced;
    this.failures += metrics.applyFailures;
    return this.inner.publish(metrics);
  }
}

export async function runApplyBench(opts: ApplyBenchOptions): Promise<SectionResult> {
  const sts = await startStsLocal(ROLE);
  const restoreEnv = setEnv({
    AWS_REGION: BENCH_REGION,
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    AWS_SESSION_TOKEN: undefined,
    AWS_PROFILE: undefined,
    AWS_ENDPOINT_URL_DYNAMODB: opts.endpoint,
    AWS_ENDPOINT_URL_STS: sts.endpoint,
  });
  const admin = plainClient(opts.endpoint);
  const ceilingClient = plainClient(opts.endpoint);
  // As the apply handler builds it at module scope: assumed-role credentials, cached and refreshed by the SDK.
  const applyClient = new DynamoDBClient({
    region: BENCH_REGION,
    credentials: targetCredentials({ ...ROLE, region: BENCH_REGION, sessionName: 'ddbrepl-apply-bench' }),
  });
  const stsClient = new STSClient({ region: BENCH_REGION });
  const metrics = new CountingMetrics(createReplicationMetrics({ namespace: 'Bench', replication: 'bench', target: 'bench', sink: metricsSinkFromEnv({ METRICS_SINK: 'off' }) }));
  const logger = createLogger('ddb-replication-apply', { LOG_LEVEL: 'SILENT' });
  let tableSeq = 0;

  const applyDeps = (table: string): ApplyDeps => ({
    config: { sourceTableName: BENCH_SOURCE_TABLE, targetTableName: table, keySchema: BENCH_KEY_SCHEMA },
    targetClient: applyClient,
    sourceClient: applyClient,
    metrics,
    logger,
  });

  const runApply = async (lanes: SQSRecord[][][], table: string): Promise<void> => {
    const deps = applyDeps(table);
    await runWork(lanes, opts.concurrency, async (batch) => {
      const out = await applyBatch(batch, 60_000, deps);
      if (out.batchItemFailures.length > 0) throw new BenchError(`apply reported ${out.batchItemFailures.length} failed messages; the measurement is void`);
    });
  };

  /** The original sample's apply: credentials per invocation, one request per record. */
  const runPerRecord = async (lanes: SQSRecord[][][], table: string): Promise<void> => {
    await runWork(lanes, opts.concurrency, async (batch) => {
      const assumed = await stsClient.send(new AssumeRoleCommand({ RoleArn: ROLE.roleArn, RoleSessionName: 'per-record', ExternalId: ROLE.externalId }));
      const c = assumed.Credentials;
      if (c?.AccessKeyId === undefined || c.SecretAccessKey === undefined) throw new BenchError('local STS returned no credentials');
      const client = new DynamoDBClient({ region: BENCH_REGION, credentials: { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken } });
      try {
        for (const record of batch) {
          const envelope = JSON.parse(record.body) as ChangeEnvelopeV1;
          if (envelope.op === 'PUT') await client.send(new PutItemCommand({ TableName: table, Item: toSdkAttributeMap(envelope.image ?? {}) }));
          else await client.send(new DeleteItemCommand({ TableName: table, Key: toSdkAttributeMap(envelope.keys) }));
        }
      } finally {
        client.destroy();
      }
    });
  };

  /** Parse each body and write its image: no validation, no coalescing, no bookkeeping. */
  const runCeilingFromBodies = async (batches: SQSRecord[][], table: string): Promise<void> => {
    await runLoops(batches, opts.concurrency, (batch) => rawBatchWrite(ceilingClient, table, batch.map((record): WriteRequest => {
      const envelope = JSON.parse(record.body) as ChangeEnvelopeV1;
      return { PutRequest: { Item: toSdkAttributeMap(envelope.image ?? {}) } };
    })));
  };

  const runCeiling = async (requestBatches: WriteRequest[][], table: string): Promise<void> => {
    await runLoops(requestBatches, opts.concurrency, (batch) => rawBatchWrite(ceilingClient, table, batch));
  };

  try {
    // Uniform workload: every change a distinct key, a 1 KB PUT.
    const items = Array.from({ length: opts.changes }, (_, i) => makeItem(`u${String(i).padStart(7, '0')}`, opts.itemBytes, i + 1));
    const records = items.map((item, i) => sqsRecordFor(streamRecord(item, i)));
    // One shared list: any loop takes the next batch, as the event source's pollers do (and as the ceiling's loops do).
    const uniformWork: SQSRecord[][][] = [chunk(records, BATCH)];
    const requests = items.map((item): WriteRequest => ({ PutRequest: { Item: toSdkAttributeMap(item) } }));
    const ceiling10 = chunk(requests, 10);
    const ceiling25 = chunk(requests, 25);

    // Hot keys: each loop owns a few keys (as FIFO group locking would have it), every change a new image.
    const hotLanes: SQSRecord[][][] = Array.from({ length: opts.concurrency }, (_, lane) => {
      const perLane = Math.ceil(opts.hotChanges / opts.concurrency);
      const laneRecords = Array.from({ length: perLane }, (_, i) => {
        const seq = 1_000_000 + lane * perLane + i;
        const key = `hot-${lane}-${(i * 7 + Math.floor(i / 3)) % HOT_KEYS_PER_LANE}`;
        return sqsRecordFor(streamRecord(makeItem(key, opts.itemBytes, seq), seq));
      });
      return chunk(laneRecords, BATCH);
    });
    const hotChanges = hotLanes.flat(2).length;

    const javaPids = childPids(opts.dynamodbLocalPid);
    const serverCpu = (): number | null => {
      const each = javaPids.map(processCpuSeconds);
      return each.length === 0 || each.some((v) => v === null) ? null : (each as number[]).reduce((a, b) => a + b, 0);
    };
    // CPU per change of each side, per variant: on a CPU-bound machine throughput follows their sum.
    const cpuUs: Record<string, { client: number[]; server: number[] }> = {};
    const run = async (variant: Variant | 'hotApply' | 'hotPerRecord'): Promise<number> => {
      const table = `bench-${variant}-${++tableSeq}`;
      await createTable(admin, table);
      const clientBefore = process.cpuUsage();
      const serverBefore = serverCpu();
      const started = performance.now();
      switch (variant) {
        case 'apply': await runApply(uniformWork, table); break;
        case 'perRecord': await runPerRecord(uniformWork, table); break;
        case 'ceilingBodies10': await runCeilingFromBodies(uniformWork[0]!, table); break;
        case 'ceiling10': await runCeiling(ceiling10, table); break;
        case 'ceiling25': await runCeiling(ceiling25, table); break;
        case 'hotApply': await runApply(hotLanes, table); break;
        case 'hotPerRecord': await runPerRecord(hotLanes, table); break;
      }
      const seconds = (performance.now() - started) / 1000;
      const client = process.cpuUsage(clientBefore);
      const serverAfter = serverCpu();
      await deleteTable(admin, table);
      const changes = variant.startsWith('hot') ? hotChanges : opts.changes;
      const entry = (cpuUs[variant] ??= { client: [], server: [] });
      entry.client.push((client.user + client.system) / changes);
      if (serverBefore !== null && serverAfter !== null) entry.server.push(((serverAfter - serverBefore) * 1e6) / changes);
      return changes / seconds;
    };

    const variants: (Variant | 'hotApply' | 'hotPerRecord')[] = ['apply', 'ceilingBodies10', 'ceiling10', 'ceiling25', 'perRecord', 'hotApply', 'hotPerRecord'];
    // Warm-up, discarded: one full repetition. DynamoDB Local is a JVM — its throughput keeps rising
    // over the first few thousand writes — and our side has JIT, sockets and the one AssumeRole.
    for (const variant of variants) await run(variant);
    for (const key of Object.keys(cpuUs)) delete cpuUs[key];

    const rates: Record<string, number[]> = Object.fromEntries(variants.map((v) => [v, []]));
    let hotCoalescedBefore = 0;
    const hotCoalesced: number[] = [];
    for (let rep = 0; rep < opts.reps; rep++) {
      // Rotated, and reversed every other time: each pair of variants runs back to back in both orders.
      const order = rotation(variants, Math.floor(rep / 2));
      for (const variant of rep % 2 === 0 ? order : order.reverse()) {
        if (variant === 'hotApply') hotCoalescedBefore = metrics.coalesced;
        const rate = await run(variant);
        if (variant === 'hotApply') hotCoalesced.push(metrics.coalesced - hotCoalescedBefore);
        rates[variant]!.push(rate);
        opts.log(`apply rep ${rep + 1}/${opts.reps} ${variant}: ${rate.toFixed(0)} changes/s`);
      }
    }

    const s = Object.fromEntries(variants.map((v) => [v, summarize(rates[v]!)]));
    const vsCeilingBodies10 = ratioSummary(rates.apply!, rates.ceilingBodies10!);
    const vsCeiling10 = ratioSummary(rates.apply!, rates.ceiling10!);
    const vsCeiling25 = ratioSummary(rates.apply!, rates.ceiling25!);
    const vsPerRecord = ratioSummary(rates.apply!, rates.perRecord!);
    const hotVsPerRecord = ratioSummary(rates.hotApply!, rates.hotPerRecord!);
    const writesSaved = summarize(hotCoalesced.map((c) => c / hotChanges));
    const base = { section: 'apply', unit: 'changes/s' };
    return {
      rows: [
        ratioRow({ ...base, metric: 'apply vs ceiling: parse bodies + BatchWriteItem (10/call)', baselineLabel: 'parse+BWI×10', target: '≥ 0.9×' }, s.apply!, s.ceilingBodies10!, vsCeilingBodies10, 0.9),
        ratioRow({ ...base, metric: 'apply vs BatchWriteItem of pre-built requests (10/call)', baselineLabel: 'raw BWI×10', target: 'info' }, s.apply!, s.ceiling10!, vsCeiling10, null),
        ratioRow({ ...base, metric: 'apply vs BatchWriteItem (25/call)', baselineLabel: 'raw BWI×25', target: 'info' }, s.apply!, s.ceiling25!, vsCeiling25, null),
        ratioRow({ ...base, metric: 'apply vs per-record sample', baselineLabel: 'Put/record+STS', target: '≥ 5×' }, s.apply!, s.perRecord!, vsPerRecord, 5),
        // The most any batching apply could reach against this baseline here: the raw ceiling's own ratio.
        ratioRow({ ...base, metric: 'bound: raw BWI×10 ceiling vs per-record sample', baselineLabel: 'Put/record+STS', target: 'info' }, s.ceiling10!, s.perRecord!, ratioSummary(rates.ceiling10!, rates.perRecord!), null),
        ratioRow({ ...base, metric: `hot keys (${opts.concurrency * HOT_KEYS_PER_LANE} keys) vs per-record`, baselineLabel: 'Put/record+STS', target: 'info' }, s.hotApply!, s.hotPerRecord!, hotVsPerRecord, null),
        ratioRow({ section: 'apply', metric: 'client CPU per change: apply vs parse+BWI×10 (ratio = extra cost)', unit: 'µs', baselineLabel: 'parse+BWI×10', target: 'info' },
          summarize(cpuUs.apply!.client), summarize(cpuUs.ceilingBodies10!.client), ratioSummary(cpuUs.apply!.client, cpuUs.ceilingBodies10!.client), null),
        ratioRow({ section: 'apply', metric: 'client CPU per change: apply vs raw BWI×10 (ratio = extra cost)', unit: 'µs', baselineLabel: 'raw BWI×10', target: 'info' },
          summarize(cpuUs.apply!.client), summarize(cpuUs.ceiling10!.client), ratioSummary(cpuUs.apply!.client, cpuUs.ceiling10!.client), null),
        { section: 'apply', metric: 'hot keys: writes saved by coalescing', unit: '% of changes', ours: writesSaved.median * 100, baseline: null, baselineLabel: null, ratio: null, ratioMin: null, ratioMax: null, target: 'info', pass: null },
      ],
      data: {
        params: { changes: opts.changes, hotChanges, hotKeys: opts.concurrency * HOT_KEYS_PER_LANE, reps: opts.reps, concurrency: opts.concurrency, batchSize: BATCH, itemBytes: opts.itemBytes },
        changesPerSecond: s,
        ratios: { vsCeilingBodies10, vsCeiling10, vsCeiling25, vsPerRecord, hotVsPerRecord },
        hotWritesSavedFraction: writesSaved,
        cpuMicrosecondsPerChange: Object.fromEntries(Object.entries(cpuUs).map(([v, c]) => [v, { client: summarize(c.client), server: c.server.length > 0 ? summarize(c.server) : null }])),
        // The cached provider: one AssumeRole for the whole run, against one per invocation for the sample.
        assumeRoleCalls: sts.stats().assumeRoleCalls,
        applyFailures: metrics.failures,
      },
    };
  } finally {
    restoreEnv();
    for (const c of [admin, ceilingClient, applyClient]) c.destroy();
    stsClient.destroy();
    await sts.stop();
  }
}

/**
 * One list: `concurrency` loops share it. Several lists (hot keys): one loop per list, in order —
 * a FIFO group is never in two invocations at once, so a hot key's changes stay with one loop.
 */
async function runWork<T>(lists: readonly T[][], concurrency: number, worker: (task: T) => Promise<void>): Promise<void> {
  if (lists.length === 1) {
    await runLoops(lists[0]!, concurrency, worker);
    return;
  }
  await Promise.all(lists.map(async (tasks) => {
    for (const task of tasks) await worker(task);
  }));
}
