import { InvalidArgumentError, type Command } from 'commander';
import type { CommandContext } from '../index';
import { parsePositiveInt, writeJson } from '../operator/args';
import { plan, type Plan } from '../plan/model';
import { DEFAULT_PRICES_FILE, loadPriceList } from '../plan/prices';

/** `ddb-replicate plan` — capacity, lag and monthly cost for a given write load (cli/plan/model.ts). No AWS calls. */
interface PlanCommandOptions {
  writesPerSecond: number;
  itemKb: number;
  targets: number;
  crossRegion?: boolean;
  prices?: string;
  json?: boolean;
}

/** Item size in KB: more than 0, at most DynamoDB's 400 KB item limit. */
function parseItemKb(value: string): number {
  const kb = Number(value);
  if (value.trim() === '' || !Number.isFinite(kb) || kb <= 0 || kb > 400) throw new InvalidArgumentError('must be a number of KB greater than 0 and at most 400 (DynamoDB\'s item size limit), e.g. 2 or 0.5');
  return kb;
}

export function registerPlan(program: Command, ctx: CommandContext): void {
  program
    .command('plan')
    .description('Estimate shards, pipe and apply capacity, lag, the stage that saturates first, the settings to choose and the monthly cost for a write load. Offline: no AWS calls.')
    .requiredOption('--writes-per-second <n>', 'sustained writes per second on the source table', parsePositiveInt(10_000_000))
    .requiredOption('--item-kb <kb>', 'average item size in KB (as DynamoDB sizes it)', parseItemKb)
    .option('--targets <n>', 'number of target tables', parsePositiveInt(100), 1)
    .option('--cross-region', 'targets are in another Region than the source (70 ms round trips, inter-Region transfer)')
    .option('--prices <file>', `price list and assumptions (default: ${DEFAULT_PRICES_FILE.replace(/.*\/cli\//, 'cli/')})`)
    .option('--json', 'print the whole plan as one JSON line on stdout')
    .addHelpText(
      'after',
      `
Every AWS limit it uses is listed under "Capacity planner" in docs/aws-contracts.md; prices and the
latency/size assumptions are in the price list, each with its source. Costs are list prices with no
free tier. The worked example and when to raise pipeParallelizationFactor: README, "Capacity planning".

Exit codes: 0 ok; 2 bad arguments or an invalid price list.

Examples:
  $ ddb-replicate plan --writes-per-second 5000 --item-kb 2 --targets 2 --cross-region
  $ ddb-replicate plan --writes-per-second 300 --item-kb 1 --json`,
    )
    .action((opts: PlanCommandOptions) => {
      const prices = loadPriceList(opts.prices);
      const result = plan({ writesPerSecond: opts.writesPerSecond, itemKb: opts.itemKb, targets: opts.targets, crossRegion: opts.crossRegion === true }, prices);
      if (opts.json === true) writeJson(ctx.io, result);
      else ctx.io.stdout.write(formatPlan(result));
    });
}

const n = (value: number, digits = 0): string => value.toLocaleString('en-US', { maximumFractionDigits: digits });
const usd = (value: number): string => `$${value.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;

export function formatPlan(r: Plan): string {
  const i = r.input;
  const lines = [
    `Plan for ${n(i.writesPerSecond)} writes/s of ${n(i.itemKb, 2)} KB items to ${i.targets} target(s)${i.crossRegion ? ' in another Region' : ''} (${i.region} prices checked ${i.pricesChecked})`,
    '',
    `stream        ${n(r.stream.sourceWriteUnitsPerSecond)} WRU/s → about ${r.stream.estimatedShards} shard(s), ${n(r.stream.recordsPerShardPerSecond)} records/s each (estimate: shards follow partitions of ≤ 1,000 WRU/s)`,
    `pipe          ${r.pipe.pipes} pipe(s)${r.pipe.attachedTargets > 0 ? `, ${r.pipe.attachedTargets} target(s) attached` : ''}; batches of ${r.pipe.batchSize} at ~${n(r.pipe.batchLatencyMs)} ms → ${n(r.pipe.capacityPerShardAtPf1)} records/s per shard at PF 1 (${n(r.pipe.utilizationAtPf1 * 100)}% busy), ${n(r.pipe.capacityPerShard)} at PF ${r.pipe.parallelizationFactor} (${n(r.pipe.utilization * 100)}% busy)`,
    `fifo queue    ${r.fifo.mode}; ${n(r.fifo.sendRequestsPerSecondPerQueue)} SendMessageBatch/s per queue of ${n(r.fifo.limitTpsPerAction)} TPS per action`,
    `apply         ${n(r.apply.invocationsPerSecondPerTarget)} invocations/s per target at ~${n(r.apply.durationMs)} ms → ${n(r.apply.concurrencyNeededPerTarget, 1)} concurrent; needs ≥ ${r.apply.minActiveMessageGroups} active message groups`,
    `target        ${n(r.target.writeUnitsPerSecondPerTarget)} WRU/s per table (on-demand default maximum ${n(r.target.tableLimit)})`,
    `lag           ~${n(r.lagMs.total)} ms = stream poll ${n(r.lagMs.streamPoll)} + pipe batch ${n(r.lagMs.pipeBatch)} + queue delivery ${n(r.lagMs.queueDelivery)} + apply ${n(r.lagMs.apply)} (while no stage is saturated)`,
    '',
    'stage           load / AWS limit                                          busy   saturates at',
    ...r.stages.map((s) => `${s.stage.padEnd(15)} ${`${n(s.load, 1)} / ${n(s.limit)} ${s.unit}`.padEnd(57)} ${`${n(s.utilization * 100, 1)}%`.padStart(6)}   ${s.saturatesAtWritesPerSecond === null ? 'scales with shards' : `${n(s.saturatesAtWritesPerSecond)} writes/s`}`),
    `first to saturate: ${r.firstToSaturate}`,
    '',
    `settings      pipeParallelizationFactor ${r.recommended.pipeParallelizationFactor}, pipeBatchSize ${r.recommended.pipeBatchSize}, applyBatchSize ${r.recommended.applyBatchSize}, maximumConcurrency ${r.recommended.maximumConcurrency}; target table ${r.recommended.targetTable}`,
    '',
    'monthly cost (list prices, no free tier)',
    `  EventBridge Pipes   ${usd(r.monthlyUsd.pipes)}`,
    `  Lambda requests     ${usd(r.monthlyUsd.lambdaRequests)}`,
    `  Lambda duration     ${usd(r.monthlyUsd.lambdaDuration)}`,
    `  SQS FIFO            ${usd(r.monthlyUsd.sqs)}`,
    `  DynamoDB writes     ${usd(r.monthlyUsd.dynamodbWrites)}`,
    `  data transfer       ${usd(r.monthlyUsd.dataTransfer)}`,
    `  CloudWatch          ${usd(r.monthlyUsd.cloudwatch)}`,
    `  total               ${usd(r.monthlyUsd.total)}`,
    `initial load per GB    Glue ${usd(r.initialLoadPerGbUsd.glue)} (${n(r.initialLoadPerGbUsd.dpuHours, 3)} DPU-hours) + target writes ${usd(r.initialLoadPerGbUsd.dynamodbWrites)} per target`,
    ...(r.warnings.length > 0 ? ['', ...r.warnings.map((w) => `note: ${w}`)] : []),
  ];
  return `${lines.join('\n')}\n`;
}
