import type { PriceList } from './prices';

/**
 * The capacity and cost model behind `ddb-replicate plan`. Pure arithmetic, no I/O. Every limit
 * below is an AWS fact recorded under "Capacity planner" in docs/aws-contracts.md; every latency
 * and size factor is an assumption read from the price list (cli/plan/prices.us-east-1.json).
 */

/** AWS limits the model uses (docs/aws-contracts.md, "Capacity planner"). */
export const AWS_LIMITS = {
  /** A DynamoDB partition serves at most 1,000 write units per second; stream shards follow partitions. */
  partitionWriteUnitsPerSecond: 1000,
  /** One write request unit writes up to 1 KB. */
  writeUnitKb: 1,
  /** A pipe with an SQS target sends at most 10 records per batch. */
  pipeBatchToSqs: 10,
  /** ParallelizationFactor of a DynamoDB stream source: 1 to 10 concurrent batches per shard. */
  parallelizationFactorMax: 10,
  /** Pipes poll each shard four times a second. */
  streamPollsPerSecond: 4,
  /** At most two readers per stream shard (hence at most two pipes per stream; further targets attach). */
  readersPerShard: 2,
  /** A FIFO event source mapping delivers at most 10 messages per batch. */
  applyBatchMax: 10,
  /** BatchWriteItem takes at most 25 requests. */
  batchWriteMax: 25,
  /** SQS event source maximumConcurrency: 2 to 1,000. */
  maximumConcurrencyMin: 2,
  maximumConcurrencyMax: 1000,
  /** Default Lambda concurrent executions per account and Region (adjustable). */
  accountConcurrency: 1000,
  /** SQS bills each 64 KB chunk of a request's payload as one request; Pipes the same per event. */
  billingChunkKb: 64,
  /** FIFO high-throughput mode, us-east-1: transactions per second per API action (see the contract row: secondary source). */
  fifoHighThroughputTps: 70_000,
  /** Default per-table on-demand maximum: 40,000 write request units per second (adjustable). */
  tableWriteUnitsPerSecond: 40_000,
} as const;

/** Alarms and metrics this project creates per target (infra/constructs/target-alarms.ts, handlers/core/metrics.ts). */
export const PROJECT = {
  alarmsPerTarget: 9,
  /** ChangesApplied, ChangesCoalesced, ApplyFailures, ResyncsApplied, ReplicationLagMs, each with the target dimension. */
  metricsPerTarget: 5,
  dashboards: 1,
  /** Defaults of targets[].options.applyMemoryMb and of the enrich function (infra/constructs/replication-target.ts). */
  applyMemoryMb: 512,
  enrichMemoryMb: 256,
} as const;

export interface PlanInput {
  writesPerSecond: number;
  itemKb: number;
  targets: number;
  crossRegion: boolean;
}

export interface Stage {
  stage: 'pipe' | 'fifo-queue' | 'apply' | 'lambda-account' | 'target-table';
  /** What the stage carries at this load, in `unit`. */
  load: number;
  /** The hard or default AWS limit of the stage, in `unit`. */
  limit: number;
  unit: string;
  utilization: number;
  /** Source writes per second at which the stage reaches its limit; null when it scales with shards. */
  saturatesAtWritesPerSecond: number | null;
}

export interface Plan {
  input: PlanInput & { region: string; pricesChecked: string };
  stream: { writeUnitsPerWrite: number; sourceWriteUnitsPerSecond: number; estimatedShards: number; recordsPerShardPerSecond: number };
  pipe: {
    pipes: number;
    attachedTargets: number;
    batchSize: number;
    batchLatencyMs: number;
    capacityPerShardAtPf1: number;
    parallelizationFactor: number;
    capacityPerShard: number;
    utilization: number;
    utilizationAtPf1: number;
    /** PF a shard at its partition limit (1,000 WRU/s) would need at the target utilization. */
    parallelizationFactorForFullShard: number;
  };
  fifo: { mode: string; messagesPerSecondPerQueue: number; sendRequestsPerSecondPerQueue: number; limitTpsPerAction: number; maxMessagesPerBatch: number };
  apply: { invocationsPerSecondPerTarget: number; durationMs: number; concurrencyNeededPerTarget: number; maximumConcurrency: number; minActiveMessageGroups: number };
  target: { writeUnitsPerSecondPerTarget: number; tableLimit: number };
  lagMs: { streamPoll: number; pipeBatch: number; queueDelivery: number; apply: number; total: number };
  stages: Stage[];
  firstToSaturate: Stage['stage'];
  recommended: { pipeParallelizationFactor: number; pipeBatchSize: number; applyBatchSize: number; maximumConcurrency: number; targetTable: string };
  monthlyUsd: {
    pipes: number;
    lambdaRequests: number;
    lambdaDuration: number;
    sqs: number;
    dynamodbWrites: number;
    dataTransfer: number;
    cloudwatch: number;
    total: number;
  };
  initialLoadPerGbUsd: { glue: number; dynamodbWrites: number; dpuHours: number };
  warnings: string[];
}

const KB_PER_GB = 1024 * 1024;

export function plan(input: PlanInput, prices: PriceList): Plan {
  const a = Object.fromEntries(Object.entries(prices.assumptions).map(([k, v]) => [k, v.value])) as Record<keyof PriceList['assumptions'], number>;
  const p = Object.fromEntries(Object.entries(prices.prices).map(([k, v]) => [k, v.usd])) as Record<keyof PriceList['prices'], number>;
  const secondsPerMonth = prices.hoursPerMonth * 3600;
  const perMonth = (perSecond: number): number => perSecond * secondsPerMonth;
  const W = input.writesPerSecond;
  const N = input.targets;

  // Stream: the number of shards is not documented as a formula; it follows the table's partitions,
  // each of which takes at most 1,000 WRU/s, so this is the fewest shards that can carry the load.
  const writeUnitsPerWrite = Math.ceil(input.itemKb / AWS_LIMITS.writeUnitKb);
  const sourceWriteUnitsPerSecond = W * writeUnitsPerWrite;
  const estimatedShards = Math.max(1, Math.ceil(sourceWriteUnitsPerSecond / AWS_LIMITS.partitionWriteUnitsPerSecond));
  const recordsPerShardPerSecond = W / estimatedShards;

  // Pipe: one batch of ≤ 10 records per shard at a time per unit of PF; a batch costs one enrichment
  // invoke plus one SendMessageBatch per queue it delivers to (its own, and attached targets' queues).
  const pipes = Math.min(N, AWS_LIMITS.readersPerShard);
  const attachedTargets = N - pipes;
  const attachedPerPipe = Math.ceil(attachedTargets / pipes);
  const batchLatencyMs = a.enrichInvokeMs + a.sqsSendBatchMs * (1 + attachedPerPipe);
  const capacityPerShardAtPf1 = (AWS_LIMITS.pipeBatchToSqs * 1000) / batchLatencyMs;
  const pfFor = (recordsPerSecond: number): number =>
    Math.min(AWS_LIMITS.parallelizationFactorMax, Math.max(1, Math.ceil(recordsPerSecond / (a.targetUtilization * capacityPerShardAtPf1))));
  const parallelizationFactor = pfFor(recordsPerShardPerSecond);
  const capacityPerShard = parallelizationFactor * capacityPerShardAtPf1;
  const fullShardRecords = AWS_LIMITS.partitionWriteUnitsPerSecond / writeUnitsPerWrite;

  // Sizes: a MODIFY record carries both images; an envelope carries the new image.
  const itemJsonKb = input.itemKb * a.jsonExpansion;
  const streamRecordKb = 2 * itemJsonKb + a.envelopeFixedKb;
  const envelopeKb = itemJsonKb + a.envelopeFixedKb;
  const chunks = (kb: number): number => Math.max(1, Math.ceil(kb / AWS_LIMITS.billingChunkKb));

  // FIFO queue per target: full batches of 10 in, out and deleted.
  const batchesPerSecond = W / AWS_LIMITS.applyBatchMax;
  const chunksPerBatch = chunks(AWS_LIMITS.applyBatchMax * envelopeKb);
  const sendRequestsPerSecondPerQueue = batchesPerSecond * chunksPerBatch;
  const sqsRequestsPerSecondPerQueue = sendRequestsPerSecondPerQueue /* SendMessageBatch */ + batchesPerSecond * chunksPerBatch /* ReceiveMessage */ + batchesPerSecond /* DeleteMessageBatch */;

  // Apply: one BatchWriteItem per batch of 10 (≤ 25), credentials cached (no AssumeRole per call).
  const rttMs = input.crossRegion ? a.rttCrossRegionMs : a.rttSameRegionMs;
  const durationMs = a.applyOverheadMs + rttMs * Math.ceil(AWS_LIMITS.applyBatchMax / AWS_LIMITS.batchWriteMax);
  const concurrencyNeededPerTarget = batchesPerSecond * (durationMs / 1000);
  const maximumConcurrency = Math.min(AWS_LIMITS.maximumConcurrencyMax, Math.max(AWS_LIMITS.maximumConcurrencyMin, Math.ceil(concurrencyNeededPerTarget / a.targetUtilization)));
  const enrichConcurrencyPerPipe = batchesPerSecond * (a.enrichInvokeMs / 1000);
  const accountConcurrencyNeeded = N * concurrencyNeededPerTarget + pipes * enrichConcurrencyPerPipe;
  const writeUnitsPerSecondPerTarget = W * writeUnitsPerWrite;

  const lagMs = {
    streamPoll: 1000 / AWS_LIMITS.streamPollsPerSecond / 2,
    pipeBatch: batchLatencyMs,
    queueDelivery: a.esmDeliveryMs,
    apply: durationMs,
    total: 0,
  };
  lagMs.total = lagMs.streamPoll + lagMs.pipeBatch + lagMs.queueDelivery + lagMs.apply;

  const linear = (stage: Stage['stage'], load: number, limit: number, unit: string): Stage => ({
    stage, load, limit, unit, utilization: load / limit, saturatesAtWritesPerSecond: W * (limit / load),
  });
  const stages: Stage[] = [
    // The pipe scales with shards: what bounds it is one shard's rate against PF 10.
    { stage: 'pipe', load: recordsPerShardPerSecond, limit: AWS_LIMITS.parallelizationFactorMax * capacityPerShardAtPf1, unit: 'records/s per shard at PF 10', utilization: recordsPerShardPerSecond / (AWS_LIMITS.parallelizationFactorMax * capacityPerShardAtPf1), saturatesAtWritesPerSecond: null },
    linear('fifo-queue', sendRequestsPerSecondPerQueue, AWS_LIMITS.fifoHighThroughputTps, 'SendMessageBatch/s per queue'),
    linear('apply', concurrencyNeededPerTarget, AWS_LIMITS.maximumConcurrencyMax, 'concurrent invocations per target'),
    linear('lambda-account', accountConcurrencyNeeded, AWS_LIMITS.accountConcurrency, 'concurrent executions (account default)'),
    linear('target-table', writeUnitsPerSecondPerTarget, AWS_LIMITS.tableWriteUnitsPerSecond, 'WRU/s per target table'),
  ];
  const firstToSaturate = stages.reduce((worst, s) => (s.utilization > worst.utilization ? s : worst)).stage;

  // Monthly cost.
  const enrichInvocationsPerSecond = pipes * batchesPerSecond;
  const applyInvocationsPerSecond = N * batchesPerSecond;
  const gbSecondsPerSecond = enrichInvocationsPerSecond * (a.enrichBilledMs / 1000) * (PROJECT.enrichMemoryMb / 1024)
    + applyInvocationsPerSecond * (durationMs / 1000) * (PROJECT.applyMemoryMb / 1024);
  const monthly = {
    pipes: (perMonth(W * chunks(streamRecordKb) * pipes) / 1e6) * p.pipesPerMillionRequests,
    lambdaRequests: (perMonth(enrichInvocationsPerSecond + applyInvocationsPerSecond) / 1e6) * p.lambdaPerMillionRequests,
    lambdaDuration: perMonth(gbSecondsPerSecond) * p.lambdaPerGbSecondArm,
    sqs: (perMonth(N * sqsRequestsPerSecondPerQueue) / 1e6) * p.sqsFifoPerMillionRequests,
    dynamodbWrites: (perMonth(N * writeUnitsPerSecondPerTarget) / 1e6) * p.dynamodbOnDemandPerMillionWriteRequestUnits,
    dataTransfer: input.crossRegion ? (perMonth(N * W * itemJsonKb) / KB_PER_GB) * p.interRegionTransferPerGb : 0,
    cloudwatch: N * (PROJECT.metricsPerTarget * p.cloudwatchPerMetricMonth + PROJECT.alarmsPerTarget * p.cloudwatchPerAlarmMonth) + PROJECT.dashboards * p.cloudwatchPerDashboardMonth,
    total: 0,
  };
  monthly.total = monthly.pipes + monthly.lambdaRequests + monthly.lambdaDuration + monthly.sqs + monthly.dynamodbWrites + monthly.dataTransfer + monthly.cloudwatch;

  // Initial load, per GB of source items (Glue bills DPU-seconds; a G.1X worker is 1 DPU).
  const itemsPerGb = KB_PER_GB / input.itemKb;
  const dpuHours = itemsPerGb / a.glueItemsPerSecondPerDpu / 3600;

  const warnings: string[] = [];
  if (recordsPerShardPerSecond > a.targetUtilization * AWS_LIMITS.parallelizationFactorMax * capacityPerShardAtPf1) {
    warnings.push(`a shard carries ${round(recordsPerShardPerSecond)} records/s, more than PF 10 keeps under ${a.targetUtilization * 100}% busy at ${batchLatencyMs} ms per pipe batch: the pipe will fall behind`);
  }
  if (accountConcurrencyNeeded > a.targetUtilization * AWS_LIMITS.accountConcurrency) {
    warnings.push(`about ${Math.ceil(accountConcurrencyNeeded)} concurrent Lambda executions are needed: ask for a higher account concurrency quota`);
  }
  if (writeUnitsPerSecondPerTarget > a.targetUtilization * AWS_LIMITS.tableWriteUnitsPerSecond) {
    warnings.push(`each target table needs ${writeUnitsPerSecondPerTarget} WRU/s: raise its maximum throughput (on-demand default 40,000 WRU/s) or provision capacity`);
  }
  if (concurrencyNeededPerTarget / a.targetUtilization > AWS_LIMITS.maximumConcurrencyMax) {
    warnings.push('apply needs more than maximumConcurrency 1,000 per target: the target lags');
  }
  warnings.push(`apply reaches ${maximumConcurrency} concurrent invocations only if at least that many message groups (distinct partition keys) have changes queued at once; FIFO never runs one group in two invocations`);

  return {
    input: { ...input, region: prices.region, pricesChecked: prices.checked },
    stream: { writeUnitsPerWrite, sourceWriteUnitsPerSecond, estimatedShards, recordsPerShardPerSecond },
    pipe: {
      pipes,
      attachedTargets,
      batchSize: AWS_LIMITS.pipeBatchToSqs,
      batchLatencyMs,
      capacityPerShardAtPf1,
      parallelizationFactor,
      capacityPerShard,
      utilization: recordsPerShardPerSecond / capacityPerShard,
      utilizationAtPf1: recordsPerShardPerSecond / capacityPerShardAtPf1,
      parallelizationFactorForFullShard: pfFor(fullShardRecords),
    },
    fifo: { mode: 'high throughput (DeduplicationScope=messageGroup, FifoThroughputLimit=perMessageGroupId)', messagesPerSecondPerQueue: W, sendRequestsPerSecondPerQueue, limitTpsPerAction: AWS_LIMITS.fifoHighThroughputTps, maxMessagesPerBatch: AWS_LIMITS.applyBatchMax },
    apply: { invocationsPerSecondPerTarget: batchesPerSecond, durationMs, concurrencyNeededPerTarget, maximumConcurrency, minActiveMessageGroups: Math.ceil(concurrencyNeededPerTarget) },
    target: { writeUnitsPerSecondPerTarget, tableLimit: AWS_LIMITS.tableWriteUnitsPerSecond },
    lagMs,
    stages,
    firstToSaturate,
    recommended: {
      pipeParallelizationFactor: parallelizationFactor,
      pipeBatchSize: AWS_LIMITS.pipeBatchToSqs,
      applyBatchSize: AWS_LIMITS.applyBatchMax,
      maximumConcurrency,
      targetTable: `on-demand (or provisioned ≥ ${Math.ceil(writeUnitsPerSecondPerTarget / a.targetUtilization)} WCU)`,
    },
    monthlyUsd: monthly,
    initialLoadPerGbUsd: { glue: dpuHours * p.glueEtlPerDpuHour, dynamodbWrites: ((itemsPerGb * writeUnitsPerWrite) / 1e6) * p.dynamodbOnDemandPerMillionWriteRequestUnits, dpuHours },
    warnings,
  };
}

function round(n: number): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: 0 });
}
