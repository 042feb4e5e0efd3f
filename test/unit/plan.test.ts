import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { plan, type Plan } from '../../cli/plan/model';
import { DEFAULT_PRICES_FILE, loadPriceList } from '../../cli/plan/prices';
import { runCli } from '../support/run-cli';

/**
 * `ddb-replicate plan`. The expected figures are worked out by hand below (from the committed price
 * list: Pipes $0.40/M, Lambda $0.20/M + $0.0000133334/GB-s arm64, SQS FIFO $0.50/M, on-demand
 * $0.625/M WRU, Glue $0.44/DPU-h, CloudWatch $0.30/metric, $0.10/alarm, $3/dashboard, transfer
 * $0.02/GB; 730 h = 2,628,000 s a month; and its assumptions: enrich invoke 10 ms, billed 5 ms,
 * SendMessageBatch 10 ms, queue delivery 20 ms, apply overhead 10 ms, RTT 5/70 ms, JSON × 1.3 +
 * 0.5 KB, 70 % utilization, Glue 1,000 items/s per DPU). They are not recomputed with the model.
 */

const prices = loadPriceList();
// The shipped price file as raw JSON, to edit one field in a copy.
const defaultPrices = (): { assumptions: Record<string, unknown> } => JSON.parse(readFileSync(DEFAULT_PRICES_FILE, 'utf8')) as { assumptions: Record<string, unknown> };

async function planJson(...args: string[]): Promise<Plan> {
  const run = await runCli('plan', ...args, '--json');
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
  return JSON.parse(run.stdout) as Plan;
}

describe('plan: worked example A — 5,000 writes/s of 2 KB items, 2 targets, cross-Region (the README example)', () => {
  // Stream: 2 KB → 2 WRU per write → 10,000 WRU/s → ⌈10,000 / 1,000⌉ = 10 shards, 500 records/s each.
  // Pipe: 2 targets → 2 pipes, nothing attached; a batch = 10 ms invoke + 10 ms send = 20 ms →
  //   10 / 0.020 = 500 records/s per shard at PF 1 (100 % busy); PF = ⌈500 / (0.7 × 500)⌉ = 2 → 1,000/s, 50 %.
  //   A full shard of 2 KB items: 1,000 / 2 = 500 records/s → PF 2 as well.
  // Sizes: item JSON 2 × 1.3 = 2.6 KB; stream record (both images) 2 × 2.6 + 0.5 = 5.7 KB → 1 chunk;
  //   envelope 3.1 KB, a batch of 10 = 31 KB → 1 chunk.
  // Queue per target: 500 batches/s → 500 sends + 500 receives + 500 deletes = 1,500 requests/s.
  // Apply: 10 ms + one 70 ms BatchWriteItem = 80 ms; 500/s × 0.080 s = 40 concurrent;
  //   maximumConcurrency ⌈40 / 0.7⌉ = ⌈57.14⌉ = 58; ≥ 40 active message groups.
  // Account concurrency: 2 × 40 + 2 pipes × (500/s × 0.010 s) = 80 + 10 = 90 of 1,000.
  // Target: 10,000 WRU/s per table of the 40,000 default → 25 %, the highest → first to saturate, at 20,000 writes/s.
  // Lag: 1,000 / 4 / 2 = 125 + 20 + 20 + 80 = 245 ms.
  // Monthly: Pipes 5,000 × 1 chunk × 2 pipes = 10,000/s × 2,628,000 = 26,280 M × 0.40 = 10,512.00
  //   Lambda requests (2 × 500 + 2 × 500) = 2,000/s → 5,256 M × 0.20 = 1,051.20
  //   Lambda GB-s: enrich 1,000/s × 0.005 × 0.25 = 1.25; apply 1,000/s × 0.080 × 0.5 = 40 → 41.25/s
  //     × 2,628,000 = 108,405,000 GB-s × 0.0000133334 = 1,445.407227
  //   SQS 2 × 1,500 = 3,000/s → 7,884 M × 0.50 = 3,942.00
  //   DynamoDB 2 × 10,000 WRU/s → 52,560 M × 0.625 = 32,850.00
  //   transfer 2 × 5,000 × 2.6 KB = 26,000 KB/s × 2,628,000 = 68,328,000,000 KB / 1,048,576 = 65,162.6587 GB × 0.02 = 1,303.253174
  //   CloudWatch 2 × (5 × 0.30 + 9 × 0.10) + 3.00 = 7.80
  //   total 51,111.660401
  // Initial load per GB: 1,048,576 KB / 2 = 524,288 items / 1,000 / 3,600 = 0.145635556 DPU-h × 0.44 = 0.064079644;
  //   writes 524,288 × 2 WRU = 1,048,576 × 0.625 / 1e6 = 0.65536.
  let r: Plan;
  beforeAll(async () => {
    r = await planJson('--writes-per-second', '5000', '--item-kb', '2', '--targets', '2', '--cross-region');
  });

  it('sizes the stream and the pipe, and picks PF 2', () => {
    expect(r.stream).toEqual({ writeUnitsPerWrite: 2, sourceWriteUnitsPerSecond: 10_000, estimatedShards: 10, recordsPerShardPerSecond: 500 });
    expect(r.pipe).toMatchObject({ pipes: 2, attachedTargets: 0, batchSize: 10, batchLatencyMs: 20, capacityPerShardAtPf1: 500, parallelizationFactor: 2, capacityPerShard: 1000, parallelizationFactorForFullShard: 2 });
    expect(r.pipe.utilizationAtPf1).toBeCloseTo(1, 10);
    expect(r.pipe.utilization).toBeCloseTo(0.5, 10);
  });

  it('sizes the queue, apply and the target', () => {
    expect(r.fifo).toMatchObject({ messagesPerSecondPerQueue: 5000, sendRequestsPerSecondPerQueue: 500, limitTpsPerAction: 70_000, maxMessagesPerBatch: 10 });
    expect(r.apply.invocationsPerSecondPerTarget).toBe(500);
    expect(r.apply.durationMs).toBe(80);
    expect(r.apply.concurrencyNeededPerTarget).toBeCloseTo(40, 10);
    expect(r.apply.maximumConcurrency).toBe(58);
    expect(r.apply.minActiveMessageGroups).toBe(40);
    expect(r.target).toEqual({ writeUnitsPerSecondPerTarget: 10_000, tableLimit: 40_000 });
    expect(r.lagMs).toEqual({ streamPoll: 125, pipeBatch: 20, queueDelivery: 20, apply: 80, total: 245 });
  });

  it('finds the target table saturating first, at 20,000 writes/s', () => {
    const byStage = Object.fromEntries(r.stages.map((s) => [s.stage, s]));
    expect(byStage['target-table']?.utilization).toBeCloseTo(0.25, 10);
    expect(byStage['target-table']?.saturatesAtWritesPerSecond).toBeCloseTo(20_000, 6);
    expect(byStage['lambda-account']?.load).toBeCloseTo(90, 10);
    expect(byStage['apply']?.utilization).toBeCloseTo(0.04, 10);
    expect(byStage['pipe']?.utilization).toBeCloseTo(0.1, 10);
    expect(byStage['pipe']?.saturatesAtWritesPerSecond).toBeNull();
    expect(r.firstToSaturate).toBe('target-table');
    expect(r.recommended).toMatchObject({ pipeParallelizationFactor: 2, pipeBatchSize: 10, applyBatchSize: 10, maximumConcurrency: 58 });
  });

  it('prices a month per service', () => {
    expect(r.monthlyUsd.pipes).toBeCloseTo(10_512, 6);
    expect(r.monthlyUsd.lambdaRequests).toBeCloseTo(1_051.2, 6);
    expect(r.monthlyUsd.lambdaDuration).toBeCloseTo(1_445.407227, 5);
    expect(r.monthlyUsd.sqs).toBeCloseTo(3_942, 6);
    expect(r.monthlyUsd.dynamodbWrites).toBeCloseTo(32_850, 6);
    expect(r.monthlyUsd.dataTransfer).toBeCloseTo(1_303.253174, 5);
    expect(r.monthlyUsd.cloudwatch).toBeCloseTo(7.8, 10);
    expect(r.monthlyUsd.total).toBeCloseTo(51_111.660401, 5);
    expect(r.initialLoadPerGbUsd.dpuHours).toBeCloseTo(0.145635556, 8);
    expect(r.initialLoadPerGbUsd.glue).toBeCloseTo(0.064079644, 8);
    expect(r.initialLoadPerGbUsd.dynamodbWrites).toBeCloseTo(0.65536, 10);
  });
});

describe('plan: worked example B — 300 writes/s of 1 KB items, 3 targets, same Region', () => {
  // 1 WRU per write, 300 WRU/s → 1 shard of 300 records/s. 3 targets → 2 pipes, 1 attached target,
  // ⌈1/2⌉ = 1 attached queue per pipe → batch = 10 + 10 × 2 = 30 ms → 10 / 0.030 = 333.33 records/s at PF 1 (90 %);
  // PF = ⌈300 / 233.33⌉ = ⌈1.29⌉ = 2 → 666.67/s (45 %). Full shard 1,000 records/s → ⌈4.29⌉ = 5.
  // 30 batches/s; queue 30 + 30 + 30 = 90 requests/s per queue (record 3.1 KB, batch 18 KB: 1 chunk each).
  // Apply 10 + 5 = 15 ms → 30 × 0.015 = 0.45 concurrent → maximumConcurrency max(2, ⌈0.64⌉) = 2; ≥ 1 group.
  // Account 3 × 0.45 + 2 × 0.3 = 1.95. Stages: pipe 300 / 3,333.33 = 9 % (highest) → first to saturate: pipe.
  // Lag 125 + 30 + 20 + 15 = 190 ms.
  // Monthly: Pipes 300 × 1 × 2 = 600/s → 1,576.8 M × 0.40 = 630.72; Lambda requests 60 + 90 = 150/s → 394.2 M × 0.20 = 78.84;
  //   GB-s 60 × 0.005 × 0.25 + 90 × 0.015 × 0.5 = 0.075 + 0.675 = 0.75/s → 1,971,000 × 0.0000133334 = 26.2801314;
  //   SQS 270/s → 709.56 M × 0.50 = 354.78; DynamoDB 900 WRU/s → 2,365.2 M × 0.625 = 1,478.25; transfer 0;
  //   CloudWatch 3 × 2.40 + 3 = 10.20; total 2,579.0701314.
  // Initial load per GB: 1,048,576 items / 1,000 / 3,600 = 0.291271111 DPU-h × 0.44 = 0.128159289; writes 0.65536.
  let r: Plan;
  beforeAll(async () => {
    r = await planJson('--writes-per-second', '300', '--item-kb', '1', '--targets', '3');
  });

  it('accounts for the attached target in the pipe batch', () => {
    expect(r.stream.estimatedShards).toBe(1);
    expect(r.pipe).toMatchObject({ pipes: 2, attachedTargets: 1, batchLatencyMs: 30, parallelizationFactor: 2, parallelizationFactorForFullShard: 5 });
    expect(r.pipe.capacityPerShardAtPf1).toBeCloseTo(333.333333, 5);
    expect(r.pipe.utilizationAtPf1).toBeCloseTo(0.9, 10);
    expect(r.pipe.utilization).toBeCloseTo(0.45, 10);
  });

  it('needs little apply concurrency and names the pipe as the first stage to saturate', () => {
    expect(r.apply.durationMs).toBe(15);
    expect(r.apply.concurrencyNeededPerTarget).toBeCloseTo(0.45, 10);
    expect(r.apply.maximumConcurrency).toBe(2);
    expect(r.apply.minActiveMessageGroups).toBe(1);
    expect(r.stages.find((s) => s.stage === 'lambda-account')?.load).toBeCloseTo(1.95, 10);
    expect(r.lagMs.total).toBe(190);
    expect(r.firstToSaturate).toBe('pipe');
  });

  it('prices a month per service', () => {
    expect(r.monthlyUsd).toEqual({
      pipes: expect.closeTo(630.72, 6),
      lambdaRequests: expect.closeTo(78.84, 6),
      lambdaDuration: expect.closeTo(26.2801314, 6),
      sqs: expect.closeTo(354.78, 6),
      dynamodbWrites: expect.closeTo(1_478.25, 6),
      dataTransfer: 0,
      cloudwatch: expect.closeTo(10.2, 10),
      total: expect.closeTo(2_579.0701314, 6),
    });
    expect(r.initialLoadPerGbUsd.glue).toBeCloseTo(0.128159289, 8);
  });
});

describe('plan: worked example C — 100 KB items are billed in 64 KB chunks', () => {
  // 100 writes/s of 100 KB, 1 target, same Region. Item JSON 130 KB; stream record 2 × 130 + 0.5 = 260.5 KB →
  // ⌈4.07⌉ = 5 Pipes requests each → 500/s → 1,314 M × 0.40 = 525.60. Envelope 130.5 KB, a batch of 10 =
  // 1,305 KB → ⌈20.39⌉ = 21 chunks: 10 batches/s → 210 sends + 210 receives + 10 deletes = 430/s →
  // 1,130.04 M × 0.50 = 565.02. 100 WRU per write → 10,000 WRU/s → 10 shards of 10 records/s; 26,280 M × 0.625 = 16,425.
  it('multiplies Pipes and SQS requests by the chunks', () => {
    const r = plan({ writesPerSecond: 100, itemKb: 100, targets: 1, crossRegion: false }, prices);
    expect(r.stream).toEqual({ writeUnitsPerWrite: 100, sourceWriteUnitsPerSecond: 10_000, estimatedShards: 10, recordsPerShardPerSecond: 10 });
    expect(r.fifo.sendRequestsPerSecondPerQueue).toBe(210);
    expect(r.monthlyUsd.pipes).toBeCloseTo(525.6, 6);
    expect(r.monthlyUsd.sqs).toBeCloseTo(565.02, 6);
    expect(r.monthlyUsd.dynamodbWrites).toBeCloseTo(16_425, 6);
    expect(r.pipe.parallelizationFactor).toBe(1);
  });
});

describe('plan: limits and warnings', () => {
  it('caps PF at 10 and warns when even PF 10 cannot keep up', () => {
    // Slow pipe batches (200 ms): 10 / 0.2 = 50 records/s per shard at PF 1; a 1 KB shard at 1,000/s needs ⌈1,000 / 35⌉ = 29 > 10.
    const slow = structuredClone(prices);
    slow.assumptions.enrichInvokeMs.value = 190;
    const r = plan({ writesPerSecond: 1000, itemKb: 1, targets: 1, crossRegion: false }, slow);
    expect(r.pipe.batchLatencyMs).toBe(200);
    expect(r.pipe.parallelizationFactor).toBe(10);
    expect(r.pipe.utilization).toBeCloseTo(2, 10);
    expect(r.firstToSaturate).toBe('pipe');
    expect(r.warnings.some((w) => w.includes('the pipe will fall behind'))).toBe(true);
  });

  it('warns about the account concurrency quota and the table maximum at high load', () => {
    // 60,000 writes/s of 1 KB, cross-Region: apply 6,000/s × 0.080 s = 480 concurrent per target; the table needs 60,000 WRU/s.
    const r = plan({ writesPerSecond: 60_000, itemKb: 1, targets: 2, crossRegion: true }, prices);
    expect(r.apply.concurrencyNeededPerTarget).toBeCloseTo(480, 10);
    expect(r.apply.maximumConcurrency).toBe(686);
    expect(r.warnings.some((w) => w.includes('account concurrency quota'))).toBe(true);
    expect(r.warnings.some((w) => w.includes('60000 WRU/s'))).toBe(true);
    expect(r.firstToSaturate).toBe('target-table');
  });
});

describe('plan: the CLI', () => {
  it('prints a readable plan with every service priced', async () => {
    const run = await runCli('plan', '--writes-per-second', '5000', '--item-kb', '2', '--targets', '2', '--cross-region');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('pipeParallelizationFactor 2');
    expect(run.stdout).toContain('first to saturate: target-table');
    for (const line of ['EventBridge Pipes', 'Lambda requests', 'Lambda duration', 'SQS FIFO', 'DynamoDB writes', 'data transfer', 'CloudWatch', 'total']) expect(run.stdout).toMatch(new RegExp(`${line}\\s+\\$[\\d,]+\\.\\d\\d`));
    expect(run.stdout).toContain('$51,111.66');
  });

  it('uses --prices instead of the committed list', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'plan-prices-'));
    try {
      const list = JSON.parse(readFileSync(DEFAULT_PRICES_FILE, 'utf8')) as { prices: { dynamodbOnDemandPerMillionWriteRequestUnits: { usd: number } } };
      list.prices.dynamodbOnDemandPerMillionWriteRequestUnits.usd = 1.25;
      const file = join(dir, 'p.json');
      writeFileSync(file, JSON.stringify(list));
      // 300 WRU/s × 2,628,000 = 788.4 M × 1.25 = 985.50
      const r = await planJson('--writes-per-second', '300', '--item-kb', '1', '--prices', file);
      expect(r.monthlyUsd.dynamodbWrites).toBeCloseTo(985.5, 6);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each([
    [['--item-kb', '2'], /writes-per-second/],
    [['--writes-per-second', '5000'], /item-kb/],
    [['--writes-per-second', '0', '--item-kb', '2'], /integer from 1/],
    [['--writes-per-second', '1.5', '--item-kb', '2'], /integer from 1/],
    [['--writes-per-second', 'lots', '--item-kb', '2'], /integer from 1/],
    [['--writes-per-second', '10', '--item-kb', '0'], /greater than 0 and at most 400/],
    [['--writes-per-second', '10', '--item-kb', '401'], /greater than 0 and at most 400/],
    [['--writes-per-second', '10', '--item-kb', 'big'], /greater than 0 and at most 400/],
    [['--writes-per-second', '10', '--item-kb', '1', '--targets', '0'], /integer from 1 to 100/],
    [['--writes-per-second', '10', '--item-kb', '1', '--prices', '/nonexistent/prices.json'], /cannot read the price list/],
  ])('exits 2 on %j', async (args, message) => {
    const run = await runCli('plan', ...args);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(message);
  });

  it.each([
    ['not JSON', '{', /is not JSON/],
    ['a price missing', JSON.stringify({ region: 'us-east-1', currency: 'USD', checked: '2026-12-01', hoursPerMonth: 730, prices: {}, assumptions: {} }), /invalid at prices\.pipesPerMillionRequests/],
    ['utilization above 1', 'UTIL', /targetUtilization/],
  ])('exits 2 on a price list that is %s', async (_what, text, message) => {
    const dir = mkdtempSync(join(tmpdir(), 'plan-prices-'));
    try {
      const file = join(dir, 'p.json');
      const body = text === 'UTIL'
        ? JSON.stringify({ ...defaultPrices(), assumptions: { ...defaultPrices().assumptions, targetUtilization: { value: 1.5, note: 'x' } } })
        : text;
      writeFileSync(file, body);
      const run = await runCli('plan', '--writes-per-second', '10', '--item-kb', '1', '--prices', file);
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(message);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
