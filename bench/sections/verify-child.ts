import { ScanCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { COMMANDS } from '../../cli/index';
import { limitOldGenerationGrowth } from '../../cli/operator/heap';
import { runVerify } from '../../cli/operator/verify';
import { BENCH_KEY_SCHEMA } from '../lib/data';
import { plainClient } from '../lib/ddb';

/**
 * One measurement of bench/sections/verify.ts in a process of its own, so that its peak RSS is the
 * verify's (or the bare scan's), not the bench's: `node --require tsx/cjs verify-child.ts
 * verify|scan ENDPOINT SOURCE TARGET SEGMENTS [PAGE_SIZE]` prints one JSON line { items, seconds, maxRssMB, … }.
 * Loaded as bin/ddb-replicate.js loads the CLI (tsx's CommonJS hook only, and the verify command's
 * modules), so the RSS is what an operator's verify takes; the bare Scan loads only the SDK's DynamoDB client.
 */
async function bareScan(client: DynamoDBClient, table: string, segments: number, pageSize: number | undefined): Promise<number> {
  const counts = await Promise.all(Array.from({ length: segments }, async (_, segment) => {
    let n = 0;
    let startKey: Record<string, AttributeValue> | undefined;
    do {
      const page = await client.send(new ScanCommand({ TableName: table, Segment: segment, TotalSegments: segments, ConsistentRead: true, ExclusiveStartKey: startKey, Limit: pageSize }));
      n += page.Items?.length ?? 0;
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined);
    return n;
  }));
  return counts.reduce((a, b) => a + b, 0);
}

async function main(): Promise<void> {
  const [mode, endpoint, source, target, segmentsArg, pageSizeArg] = process.argv.slice(2);
  if ((mode !== 'verify' && mode !== 'scan') || endpoint === undefined || source === undefined || target === undefined) throw new Error('usage: verify-child.ts verify|scan ENDPOINT SOURCE TARGET SEGMENTS');
  const segments = Number(segmentsArg ?? 4);
  const pageSize = pageSizeArg === undefined ? undefined : Number(pageSizeArg);
  const client = plainClient(endpoint);
  const started = performance.now();
  let extra: Record<string, unknown> = {};
  let items: number;
  if (mode === 'scan') {
    const [a, b] = await Promise.all([bareScan(client, source, segments, pageSize), bareScan(client, target, segments, pageSize)]);
    items = a + b;
  } else {
    const table = (tableName: string) => ({ client, tableName, description: tableName });
    // What `ddb-replicate verify` has loaded when it starts scanning: the verify command's module
    // graph (bin/ddb-replicate.js loads only the command it runs), so the RSS is the command's.
    COMMANDS.find((c) => c.name === 'verify')?.load();
    // As the verify command does before it scans.
    limitOldGenerationGrowth();
    const r = await runVerify({ source: table(source), target: table(target), keySchema: BENCH_KEY_SCHEMA, segments, ...(pageSize === undefined ? {} : { pageSize }) });
    items = r.sourceItems + r.targetItems;
    extra = { mismatchingBuckets: r.mismatchingBuckets, missing: r.missing, extra: r.extra, different: r.different };
  }
  const seconds = (performance.now() - started) / 1000;
  client.destroy();
  // maxRSS is in kilobytes (getrusage).
  process.stdout.write(`${JSON.stringify({ items, seconds, maxRssMB: process.resourceUsage().maxRSS / 1024, ...extra })}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
  process.exitCode = 1;
});
