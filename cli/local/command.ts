import { InvalidArgumentError, Option, type Command } from 'commander';
import { DELIVERY_MODES } from '../../schemas/replication-config';
import type { CommandContext } from '../index';
import { runLocal, type LocalRunOptions } from './run';
import { runKeptLocal } from './keep';
import { CliError, EXIT } from '../errors';

/**
 * `ddb-replicate local` — the black-box interface of docs/architecture.md#local-mode. Argument parsing only; the
 * input plan is input-plan.ts, a run is run.ts, a kept session (--keep) keep.ts.
 */
export function registerLocal(program: Command, ctx: CommandContext): void {
  program
    .command('local')
    .description('Run the whole pipeline (stream → pipe → FIFO queue → apply → target) on local emulators, then check target == source.')
    .option('--key-schema <spec>', 'primary key of the source and target tables: pk:S or pk:S,sk:N (types S, N, B)')
    .option('--seed-items <file>', 'items.jsonl: one DynamoDB-JSON item per line, written to the source before replication starts')
    .option('--ops <file>', 'ops.jsonl: {"op":"put","item":{…}} | {"op":"delete","key":{…}} | {"op":"update","key":{…},"set":{…},"remove":[…]}, run after replication starts')
    .option('--faults <spec>', 'inject faults at these rates (0..1): apply-throttle, apply-crash, duplicate-delivery, enrich-failure, poison-message, target-drift, e.g. apply-throttle=0.1,apply-crash=0.05')
    .option('--seed <n>', 'PRNG seed for faults and the demo workload, so a run repeats (default: random, printed)', parseSeed)
    .option('--bootstrap', 'read the stream from "now" and copy the seed items with the initial load (direct engine, apply paused meanwhile), as in AWS; one target only (not with --targets > 1)')
    .option('--json', 'print exactly one JSON line with the results on stdout (progress only if stderr is a terminal)')
    .option('--demo', 'generate the data: a few thousand seed items and a mixed workload (puts, updates, deletes, TTL-style deletes, ~350 KB items, hot keys)')
    .option('--timeout <seconds>', 'give up (exit 1) when the run takes longer than this', parseSeconds, 300)
    .option('--targets <n>', 'replicate to N targets (1-10), fanned out as in AWS; exit 0 iff every target equals the source', parseTargetCount, 1)
    .addOption(new Option('--delivery <mode>', 'how the owner\'s envelopes reach its queue: pipe-target (the pipe\'s SQS target sends what the enrichment returns) or enrichment-send (the enrichment sends them itself, as for attached queues)').choices([...DELIVERY_MODES]).default('pipe-target'))
    .option('--sampled-verify', 'run the continuous sampled verification (handlers/sampled-verify.ts) on a short period during the run, and until it finds nothing after it')
    .option('--verify-every <seconds>', 'period of --sampled-verify', parseSeconds, 2)
    .option('--auto-repair', 'with --sampled-verify: enqueue a RESYNC for each confirmed mismatch (continuousVerify.autoRepair)')
    .option('--keep', 'keep the emulators running after the data has replicated, for `status|replay|verify|pause|resume --local` (docs/operator-cli.md)')
    .addHelpText(
      'after',
      `
Seed items are written to the source table before the pipe starts:
  without --bootstrap  the pipe reads the stream from TRIM_HORIZON, so the seed
                       items reach the target through the stream; the ops are
                       written once they have.
  with --bootstrap     the pipe reads the stream from "now", as a pipe deployed
                       onto an existing table does, so only the initial load
                       copies the seed items; the ops are written during the
                       bootstrap and buffer in the queue until the apply resumes.
Ops are written in file order per key.

Local mode runs the template \`cdk deploy\` would create (synthesized in memory):
pipe batch size, starting position, retries, FilterCriteria, queue and mapping
settings all come from it (docs/local-mode.md). The one local override, the
queues' short visibility timeout, is listed in the summary.

Exit codes: 0 target equals source; 1 divergence (the first differing keys are
printed) or failure; 2 bad input (nothing is started or written: every line of
both files is validated first); 130 Ctrl-C (SIGINT); 143 SIGTERM.

--json prints one line: {"seeded":n,"ops":n,"applied":n,"dlq":n,"diffs":n,
"lagP50Ms":n,"lagP99Ms":n,"seconds":n}; on failure or timeout one line too:
{"error":"…","exitCode":n, and the counts known so far}. With poison-message faults the DLQ holds
the poison messages (they name no item); the target must still equal the source.

--sampled-verify runs the scheduled sampled verification every --verify-every
seconds and, after the workload, until a run finds nothing (at most 5 runs);
--json then adds "verifySampled", "verifyMismatches" and "repaired". The fault
target-drift=R writes into the target table directly (wrong values, extra items,
deletions) with probability R per op: with --auto-repair the run must still end
with target == source; without it, the drift is reported and the exit code is 1.

--targets N replicates to N target tables (t1…tN) with the fan-out of AWS: one
pipe emulator whose enrichment also delivers to the other targets' queues, and an
apply per target; every target must equal the source. --bootstrap copies into one
target, so it is refused with --targets > 1 (exit 2); in AWS, bootstrap each
target with \`ddb-replicate bootstrap --target <name>\`.

Fault rates count per occasion: apply-throttle and apply-crash per BatchWriteItem,
duplicate-delivery per apply batch, enrich-failure per enrichment call, and
poison-message per pipe batch (R = the chance that a batch brings one undecodable
message along), not per message.

Input is refused as DynamoDB would refuse it (exit 2, file:line): numbers beyond
38 significant digits or magnitude 1E-130…9.99E+125, empty sets, duplicate set
elements (numbers by value), empty attribute names, invalid UTF-8. A UTF-8
byte-order mark is accepted at the start of a file only.

Examples:
  $ ddb-replicate local --demo
  $ ddb-replicate local --demo --targets 3
  $ ddb-replicate local --demo --delivery enrichment-send
  $ ddb-replicate local --demo --sampled-verify --auto-repair --faults target-drift=0.02
  $ ddb-replicate local --key-schema pk:S,sk:N --seed-items items.jsonl \\
      --ops ops.jsonl --faults apply-throttle=0.1,apply-crash=0.05 --json`,
    )
    .action(async (opts: LocalRunOptions & { keep?: boolean }) => {
      if (opts.keep === true) {
        if ((opts.targets ?? 1) > 1) throw new CliError('--keep runs one target; drop --targets', EXIT.badInput);
        ctx.exitCode = await runKeptLocal(opts, ctx.io);
        return;
      }
      ctx.exitCode = await runLocal({ ...opts, debug: ctx.debug }, ctx.io);
    });
}

function parseSeed(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) > 0xffffffff) throw new InvalidArgumentError('must be an integer from 0 to 4294967295');
  return Number(value);
}

function parseSeconds(value: string): number {
  const seconds = Number(value);
  if (value.trim() === '' || !Number.isFinite(seconds) || seconds <= 0) throw new InvalidArgumentError('must be a positive number of seconds');
  return seconds;
}

function parseTargetCount(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 10) throw new InvalidArgumentError('must be an integer from 1 to 10');
  return Number(value);
}
