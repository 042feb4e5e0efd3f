import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { DeleteItemCommand, PutItemCommand, type WriteRequest } from '@aws-sdk/client-dynamodb';
import { toSdkAttributeMap } from '../../handlers/core/attribute-value';
import { chunk, makeItem, runLoops } from '../lib/data';
import { createTable, deleteTable, plainClient, rawBatchWrite } from '../lib/ddb';
import { BenchError } from '../lib/errors';
import { absoluteRow, ratioRow, type SectionResult } from '../lib/report';
import { ratioSummary, rotation, summarize } from '../lib/stats';

/**
 * `verify` (cli/operator/verify.ts, digest buckets) on DynamoDB Local: items/s against a bare parallel
 * Scan of both tables (same segments and page size, consistent reads, nothing done with the items), and the
 * verify process's peak RSS. Each run is a child process (verify-child.ts) so the RSS is its own.
 * Throughput is measured on equal tables (pass 1 only, the healthy case); then three differences
 * are planted and one more verify (both passes and the re-check) must find exactly them.
 */
export interface VerifyBenchOptions {
  endpoint: string;
  items: number;
  itemBytes: number;
  segments: number;
  /** Scan page size (Limit) of both variants: verify's default, so the baseline pages alike. */
  pageSize: number;
  reps: number;
  log: (line: string) => void;
}

interface ChildResult {
  items: number;
  seconds: number;
  maxRssMB: number;
  missing?: number;
  extra?: number;
  different?: number;
}

const CHILD = join(__dirname, 'verify-child.ts');
/** The memory goal of issue 13: a 200,000-item table verified in ≤ 200 MB. */
const MAX_RSS_MB = 200;

function child(args: string[]): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--require', 'tsx/cjs', CHILD, ...args], { env: { ...process.env }, maxBuffer: 2 ** 20 }, (error, stdout, stderr) => {
      if (error !== null) reject(new BenchError(`verify-child ${args[0]} failed: ${stderr.slice(-1000)}`));
      else resolve(JSON.parse(stdout) as ChildResult);
    });
  });
}

export async function runVerifyBench(opts: VerifyBenchOptions): Promise<SectionResult> {
  const client = plainClient(opts.endpoint);
  const source = 'verify-source';
  const target = 'verify-target';
  try {
    await createTable(client, source);
    await createTable(client, target);
    const requests = Array.from({ length: opts.items }, (_, i): WriteRequest => ({ PutRequest: { Item: toSdkAttributeMap(makeItem(`v${String(i).padStart(7, '0')}`, opts.itemBytes, i + 1)) } }));
    let written = 0;
    await runLoops(chunk(requests, 25), 4, async (batch) => {
      await rawBatchWrite(client, source, batch);
      await rawBatchWrite(client, target, batch);
      written += batch.length;
      if (written % 20_000 < 25) opts.log(`verify: seeded ${written}/${opts.items} items into both tables`);
    });
    const args = (mode: string): string[] => [mode, opts.endpoint, source, target, String(opts.segments), String(opts.pageSize)];
    // Throughput on equal tables (the healthy case: pass 1 only), interleaved with the bare scan.
    const rates: Record<'verify' | 'scan', number[]> = { verify: [], scan: [] };
    const rss: Record<'verify' | 'scan', number[]> = { verify: [], scan: [] };
    for (let rep = 0; rep < opts.reps; rep++) {
      for (const variant of rotation(['verify', 'scan'] as const, rep)) {
        const r = await child(args(variant));
        rates[variant].push(r.items / r.seconds);
        rss[variant].push(r.maxRssMB);
        opts.log(`verify rep ${rep + 1}/${opts.reps} ${variant}: ${(r.items / r.seconds).toFixed(0)} items/s, peak RSS ${r.maxRssMB.toFixed(0)} MB`);
      }
    }
    // One missing, one extra, one different: pass 2 and the re-check run too, and must find exactly these.
    await client.send(new DeleteItemCommand({ TableName: target, Key: { pk: { S: 'v0000001' } } }));
    await client.send(new PutItemCommand({ TableName: target, Item: toSdkAttributeMap(makeItem('extra', opts.itemBytes, 7)) }));
    await client.send(new PutItemCommand({ TableName: target, Item: toSdkAttributeMap(makeItem('v0000002', opts.itemBytes, 99)) }));
    const withDiffs = await child(args('verify'));
    if (withDiffs.missing !== 1 || withDiffs.extra !== 1 || withDiffs.different !== 1) throw new BenchError(`verify found ${withDiffs.missing} missing, ${withDiffs.extra} extra, ${withDiffs.different} different; planted 1 of each`);
    opts.log(`verify with 3 differences (2 passes): ${(withDiffs.items / withDiffs.seconds).toFixed(0)} items/s, peak RSS ${withDiffs.maxRssMB.toFixed(0)} MB`);
    rss.verify.push(withDiffs.maxRssMB);
    const verifyRss = Math.max(...rss.verify);
    return {
      rows: [
        ratioRow({ section: 'verify', metric: `verify vs bare parallel Scan of both tables (${opts.items} items, ${opts.segments} segments, pages of ${opts.pageSize})`, unit: 'items/s', baselineLabel: 'bare Scan', target: '≥ 0.8×' }, summarize(rates.verify), summarize(rates.scan), ratioSummary(rates.verify, rates.scan), 0.8),
        absoluteRow({ section: 'verify', metric: `verify peak RSS (${opts.items} items; with and without differences)`, unit: 'MB', target: `≤ ${MAX_RSS_MB} MB` }, verifyRss, verifyRss <= MAX_RSS_MB),
      ],
      data: { params: { items: opts.items, itemBytes: opts.itemBytes, segments: opts.segments, pageSize: opts.pageSize, reps: opts.reps }, itemsPerSecond: { verify: summarize(rates.verify), scan: summarize(rates.scan) }, peakRssMB: { verify: summarize(rss.verify), scan: summarize(rss.scan) }, withDifferences: withDiffs },
    };
  } finally {
    await deleteTable(client, source);
    await deleteTable(client, target);
    client.destroy();
  }
}
