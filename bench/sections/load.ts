import { ScanCommand, type AttributeValue, type DynamoDBClient, type WriteRequest } from '@aws-sdk/client-dynamodb';
import { copyTableDirect } from '../../cli/bootstrap/direct-engine';
import { toSdkAttributeMap } from '../../handlers/core/attribute-value';
import { BENCH_KEY_SCHEMA, chunk, makeItem, runLoops } from '../lib/data';
import { createTable, deleteTable, plainClient, rawBatchWrite } from '../lib/ddb';
import { BenchError } from '../lib/errors';
import { ratioRow, type SectionResult } from '../lib/report';
import { ratioSummary, rotation, summarize } from '../lib/stats';

/**
 * Initial load on DynamoDB Local: the direct engine (cli/bootstrap/direct-engine.ts — what
 * `bootstrap --engine direct` and local mode run) against the plainest parallel copy there is —
 * the same Scan segments, each page written with BatchWriteItem 25 at a time, UnprocessedItems
 * resubmitted — from the same source table into fresh target tables, interleaved.
 */
export interface LoadBenchOptions {
  endpoint: string;
  items: number;
  segments: number;
  reps: number;
  itemBytes: number;
  log: (line: string) => void;
}

async function rawParallelCopy(client: DynamoDBClient, source: string, target: string, segments: number): Promise<number> {
  const counts = await Promise.all(Array.from({ length: segments }, async (_, segment) => {
    let copied = 0;
    let startKey: Record<string, AttributeValue> | undefined;
    do {
      const page = await client.send(new ScanCommand({ TableName: source, Segment: segment, TotalSegments: segments, ExclusiveStartKey: startKey }));
      const requests = (page.Items ?? []).map((Item): WriteRequest => ({ PutRequest: { Item } }));
      for (const batch of chunk(requests, 25)) await rawBatchWrite(client, target, batch);
      copied += requests.length;
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined);
    return copied;
  }));
  return counts.reduce((a, b) => a + b, 0);
}

export async function runLoadBench(opts: LoadBenchOptions): Promise<SectionResult> {
  const client = plainClient(opts.endpoint);
  const source = 'load-source';
  let tableSeq = 0;
  try {
    await createTable(client, source);
    const seed = Array.from({ length: opts.items }, (_, i): WriteRequest => ({ PutRequest: { Item: toSdkAttributeMap(makeItem(`l${String(i).padStart(7, '0')}`, opts.itemBytes, i + 1)) } }));
    await runLoops(chunk(seed, 25), 4, (batch) => rawBatchWrite(client, source, batch));

    const run = async (variant: 'direct' | 'raw'): Promise<number> => {
      const target = `load-${variant}-${++tableSeq}`;
      await createTable(client, target);
      const started = performance.now();
      const copied = variant === 'direct'
        ? (await copyTableDirect({ sourceClient: client, sourceTableName: source, targetClient: client, targetTableName: target, keySchema: BENCH_KEY_SCHEMA, segments: opts.segments })).written
        : await rawParallelCopy(client, source, target, opts.segments);
      const seconds = (performance.now() - started) / 1000;
      await deleteTable(client, target);
      if (copied !== opts.items) throw new BenchError(`${variant} copied ${copied} of ${opts.items} items`);
      return copied / seconds;
    };

    await run('direct');
    await run('raw');
    const rates: Record<'direct' | 'raw', number[]> = { direct: [], raw: [] };
    for (let rep = 0; rep < opts.reps; rep++) {
      for (const variant of rotation(['direct', 'raw'] as const, rep)) {
        const rate = await run(variant);
        rates[variant].push(rate);
        opts.log(`load rep ${rep + 1}/${opts.reps} ${variant}: ${rate.toFixed(0)} items/s`);
      }
    }
    const direct = summarize(rates.direct);
    const raw = summarize(rates.raw);
    const ratio = ratioSummary(rates.direct, rates.raw);
    return {
      rows: [ratioRow({ section: 'load', metric: `direct engine vs raw Scan+BatchWriteItem (${opts.segments} segments)`, unit: 'items/s', baselineLabel: 'raw Scan+BWI', target: '≥ 0.9×' }, direct, raw, ratio, 0.9)],
      data: { params: { items: opts.items, segments: opts.segments, reps: opts.reps, itemBytes: opts.itemBytes }, itemsPerSecond: { direct, raw }, ratio },
    };
  } finally {
    await deleteTable(client, source).catch(() => undefined);
    client.destroy();
  }
}
