import { closeSync, mkdirSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { InvalidArgumentError, Option, type Command } from 'commander';
import type { CliIo, CommandContext } from '../index';
import { CliError, EXIT } from '../errors';
import { DEFAULT_SESSION_FILE } from '../../common/session-file';
import { resolveDeployedTarget } from '../aws/deployed-target';
import { parseFraction, parsePositiveInt, withInterrupt, writeJson } from '../operator/args';
import { limitOldGenerationGrowth } from '../operator/heap';
import { ProgressBar } from '../operator/progress';
import { repairEnvelope, sendEnvelopes } from '../operator/queues';
import { DEFAULT_BUCKETS, runVerify, type VerifyResult } from '../operator/verify';
import { loadConfig } from '../targets/aws';
import { addTargetOptions, resolveTarget, type TargetSelection } from '../targets/resolve';
import type { OperatorTarget } from '../targets/types';
import { describeGlueProgress, readGlueDifferences, runGlueVerify, verifyResultOfSummary } from '../verify/glue-engine';
import type { GlueVerifyArgs, GlueVerifyRunner } from '../verify/glue-runner';
import { localGlueVerifyRunnerForSession } from '../local/glue-verify-runner';

/** `ddb-replicate verify` — compare target with source (cli/operator/verify.ts), optionally repair. */
interface VerifyCommandOptions extends TargetSelection {
  engine: 'scan' | 'glue';
  segments: number;
  sample?: number;
  repair?: boolean;
  showValues?: boolean;
  limit: number;
  json?: boolean;
  buckets: number;
  settle?: number;
  report?: string;
  pageSize?: number;
}

export function registerVerify(program: Command, ctx: CommandContext): void {
  addTargetOptions(
    program
      .command('verify')
      .description('Compare the target table with the source in the target\'s view (filter, redaction): bucket digests of both tables in bounded memory, then the differing keys; report missing, extra and different items. On this machine (--engine scan) or in the target\'s verify Glue job (--engine glue).'),
    { targetProfile: true },
  )
    .addOption(new Option('--engine <engine>', 'where the tables are compared: scan (this machine) or glue (the target\'s verify Glue job; report in S3)').choices(['scan', 'glue']).default('scan'))
    .option('--segments <n>', 'parallel Scan segments per table (--engine glue: the job\'s default unless given)', parsePositiveInt(1_000_000), 4)
    .option('--sample <fraction>', 'check only this fraction of the source items (GetItem on the target for each); e.g. 0.01', parseFraction)
    .option('--repair', 'enqueue a RESYNC for each differing key (the apply then writes the source\'s current item, or deletes the key)')
    .option('--show-values', 'print the differing items\' values (default: keys only)')
    .option('--limit <n>', 'how many differences to list', parsePositiveInt(100_000), 10)
    .option('--json', 'print one JSON line with the result on stdout')
    .option('--buckets <n>', 'digest buckets (memory: 64 bytes each); more buckets narrow pass 2 further (--engine glue: the job\'s default unless given)', parsePositiveInt(1 << 24), DEFAULT_BUCKETS)
    .option('--page-size <n>', 'items per Scan page (Scan Limit; DynamoDB also stops a page at 1 MB): fewer, less memory, more requests (default 250)', parsePositiveInt(1_000_000))
    .option('--settle <seconds>', 'wait this long before re-reading differing keys (default: twice the measured replication lag + 1 s; 10 s when unknown)', parseSeconds)
    .option('--report <file>', 'write every difference (kind and keys, never values) as JSON lines to this file (default: .ddb-replicate/verify-<target>-<time>.jsonl, only when there are differences)')
    .addHelpText(
      'after',
      `
Equality is exact: every type and character must match, except that numbers compare by exact
decimal value ("1.50" = "1.5", but "1.5" ≠ "1.50001") and sets (SS, NS, BS) ignore order. Source
items are compared in the target's view: its filter and redaction applied.

Memory does not grow with the table: pass 1 scans both tables and folds every item into one of
--buckets digests (by a hash of its key); pass 2 re-scans only if digests differ and keeps the keys
of the differing buckets. Differing keys are read again after --settle, so a change still in flight
is not reported. Each table is scanned once (twice with differences), with consistent reads (twice
the read units of eventual reads). --sample does not look for items that exist only in the target.

Engines:
  scan  (default) this machine scans both tables, in memory that does not grow with the table;
        for tables up to tens of millions of items (hours of scanning). The report is a local file.
  glue  the target's verify Glue job compares the tables on Glue workers (the same passes and
        re-check), for tables beyond what one machine scans in reasonable time. The command starts
        a run, shows its progress and waits; Ctrl-C stops the run. The report (keys only) is in
        S3, under the job's report bucket; --repair reads it from there. --segments, --buckets,
        --settle and --page-size override the job's defaults for this run; --sample, --show-values
        and --target-profile do not apply (the job reads the target through the target role).
        With --local: the job's script runs on this machine against the local session.
  Between runs, the continuous sampled verification (continuousVerify in the config) checks a
  sample every few minutes and raises alarms: see docs/operator-cli.md, "Three ways to verify".

In AWS the target table is in the target account: with --engine scan, --target-profile names a
profile with read access to it (dynamodb:Scan, dynamodb:GetItem).

Exit codes: 0 target equals source; 1 differences found (also when --repair enqueued fixes: run
verify again to confirm) or a failure; 2 bad arguments; 130 interrupted.

Examples:
  $ ddb-replicate verify --target dr --target-profile dr-readonly
  $ ddb-replicate verify --target dr --target-profile dr-readonly --sample 0.01
  $ ddb-replicate verify --local --repair
  $ ddb-replicate verify --target dr --engine glue
  $ ddb-replicate verify --target dr --engine glue --repair`,
    )
    .action(async (opts: VerifyCommandOptions, command: Command) => {
      if (opts.engine === 'glue') {
        await verifyWithGlue(opts, command, ctx);
        return;
      }
      const target = await resolveTarget(opts, ctx.io);
      limitOldGenerationGrowth();
      try {
        const bar = new ProgressBar(ctx.io.stderr);
        const result = await withInterrupt(ctx.io, 'page', (signal) => runVerify({
          source: target.source,
          target: target.target,
          keySchema: target.keySchema,
          ...(target.policy === undefined ? {} : { view: target.policy.view }),
          segments: opts.segments,
          buckets: opts.buckets,
          ...(opts.pageSize === undefined ? {} : { pageSize: opts.pageSize }),
          limit: opts.limit,
          settleMs: opts.settle === undefined ? () => measuredSettleMs(target) : opts.settle * 1000,
          signal,
          ...(opts.sample === undefined ? {} : { sample: opts.sample }),
          ...(opts.showValues === true ? { showValues: true } : {}),
          onProgress: (p) => {
            bar.update(p.sourceItems + p.targetItems, undefined, `${p.phase}: source ${p.sourceItems}, target ${p.targetItems} items, ${Math.round(bar.rate(p.sourceItems + p.targetItems))} items/s`);
          },
        }));
        bar.done();
        const differing = result.missing + result.extra + result.different;
        const report = differing > 0 || opts.report !== undefined ? writeReport(opts.report ?? defaultReportFile(target.name), result) : undefined;
        let repaired = 0;
        if (opts.repair === true && differing > 0 && !result.interrupted) {
          const envelopes = result.differences.map((d) => repairEnvelope(target.source.tableName, d.keys, target.keySchema));
          await sendEnvelopes(target.sqs, target.queueUrl, envelopes, (n) => {
            repaired += n;
          });
        }
        if (opts.json === true) {
          const { differences: _differences, ...summary } = result;
          writeJson(ctx.io, { target: target.name, ...summary, repaired, ...(report === undefined ? {} : { report }) });
        } else {
          ctx.io.stdout.write(describe(result, target.name, target.selector, repaired, opts, report));
        }
        ctx.exitCode = result.interrupted ? EXIT.interrupted : differing > 0 ? EXIT.failure : EXIT.ok;
      } finally {
        target.close();
      }
    });
}

/** Options of the scan engine that have no meaning for the Glue job, with why. */
const NOT_FOR_GLUE: readonly [keyof VerifyCommandOptions, string][] = [
  ['sample', '--sample is not available with --engine glue: the Glue job compares every item; sample with --engine scan --sample FRACTION'],
  ['showValues', '--show-values is not available with --engine glue: the job\'s report holds keys only; list values with --engine scan --show-values'],
  ['targetProfile', '--target-profile is not used with --engine glue: the job reads the target table through the target role; leave it out'],
];

/** `verify --engine glue`: one run of the target's verify Glue job (cli/verify/glue-engine.ts). */
async function verifyWithGlue(opts: VerifyCommandOptions, command: Command, ctx: CommandContext): Promise<void> {
  for (const [option, message] of NOT_FOR_GLUE) if (opts[option] !== undefined) throw new CliError(message, EXIT.badInput);
  const given = (name: string): boolean => command.getOptionValueSource(name) === 'cli';
  const args: Omit<GlueVerifyArgs, 'runId'> = {
    ...(given('segments') ? { segments: opts.segments } : {}),
    ...(given('buckets') ? { buckets: opts.buckets } : {}),
    ...(opts.settle === undefined ? {} : { settleSeconds: opts.settle }),
    ...(opts.pageSize === undefined ? {} : { pageSize: opts.pageSize }),
  };
  const target = await resolveTarget(opts, ctx.io);
  let runner: GlueVerifyRunner | undefined;
  try {
    runner = await glueRunnerFor(target, opts);
    ctx.exitCode = await runGlueVerifyCommand({ io: ctx.io, target, runner, args, opts });
  } finally {
    runner?.close();
    target.close();
  }
}

export interface GlueVerifyCommandInput {
  readonly io: CliIo;
  readonly target: OperatorTarget;
  readonly runner: GlueVerifyRunner;
  readonly args: Omit<GlueVerifyArgs, 'runId'>;
  readonly opts: Pick<VerifyCommandOptions, 'limit' | 'json' | 'repair' | 'report'>;
  /** @default Ctrl-C / SIGTERM (withInterrupt) */
  readonly signal?: AbortSignal;
  /** @default the runner's */
  readonly pollIntervalMs?: number;
}

/** One Glue run from start to output: progress on stderr, the scan engine's summary, --repair and --report from the streamed report; the exit code. */
export async function runGlueVerifyCommand(input: GlueVerifyCommandInput): Promise<number> {
  const { io, target, runner: glue, args, opts } = input;
  const bar = new ProgressBar(io.stderr, { plainIntervalMs: Number.POSITIVE_INFINITY });
  let shownPhase: string | undefined;
  const run = (signal: AbortSignal) => runGlueVerify({
    runner: glue,
    args,
    signal,
    ...(input.pollIntervalMs === undefined ? {} : { pollIntervalMs: input.pollIntervalMs }),
    onStarted: (runId) => io.stderr.write(`started ${glue.description} run ${runId}; its report: ${glue.reportLocation(runId).replace(/differences\.jsonl$/, '')}\n`),
    onProgress: (p) => {
      const phase = p?.phase ?? 'starting';
      // Off a terminal, one line per phase: a Glue run lasts long, a line every few seconds would flood a CI log.
      bar.update(p?.segmentsDone ?? 0, undefined, describeGlueProgress(p, bar.elapsedSeconds), phase !== shownPhase);
      shownPhase = phase;
    },
  });
  const outcome = input.signal === undefined ? await withInterrupt(io, 'status check, then stop the job run', run) : await run(input.signal);
  bar.done();
  const selector = `${target.selector} --engine glue`;
  if (outcome.kind === 'interrupted') {
    io.stderr.write(!outcome.started
      ? 'interrupted before the job run started\n'
      : outcome.stopError === undefined
        ? `stopped ${glue.description} run ${outcome.runId}${target.kind === 'aws' ? ' (glue:BatchStopJobRun)' : ''}: no verdict; run \`ddb-replicate verify ${selector}\` again\n`
        : `could not stop ${glue.description} run ${outcome.runId}: ${outcome.stopError}; it is still running: stop it in the Glue console\n`);
    if (opts.json === true) writeJson(io, { target: target.name, engine: 'glue', runId: outcome.runId, interrupted: true, stopped: outcome.started && outcome.stopError === undefined });
    return EXIT.interrupted;
  }
  const { summary, runId } = outcome;
  const differing = summary.missing + summary.extra + summary.different;
  let repaired = 0;
  let copy: { fd: number; file: string } | undefined;
  if (opts.report !== undefined) copy = { fd: openReport(opts.report), file: opts.report };
  let shown: Awaited<ReturnType<typeof readGlueDifferences>>['shown'] = [];
  try {
    if (differing > 0) {
      const out = copy;
      ({ shown } = await readGlueDifferences(glue, runId, {
        limit: opts.limit,
        ...(opts.repair === true ? {
          repair: (batch) => sendEnvelopes(target.sqs, target.queueUrl, batch.map((d) => repairEnvelope(target.source.tableName, d.keys, target.keySchema)), (n) => {
            repaired += n;
          }),
        } : {}),
        ...(out === undefined ? {} : { copy: (d) => writeSync(out.fd, `${JSON.stringify({ kind: d.kind, keys: d.keys })}\n`) }),
      }));
    }
  } finally {
    if (copy !== undefined) closeSync(copy.fd);
  }
  const result = verifyResultOfSummary(summary, shown);
  const report = copy?.file ?? (differing > 0 ? glue.reportLocation(runId) : undefined);
  if (opts.json === true) {
    const { differences: _differences, ...rest } = result;
    writeJson(io, { target: target.name, engine: 'glue', runId, ...rest, repaired, ...(report === undefined ? {} : { report }) });
  } else {
    io.stdout.write(describe(result, target.name, selector, repaired, opts, report));
  }
  return differing > 0 ? EXIT.failure : EXIT.ok;
}

/** The deployed job (stack output VerifyJobName, S3 report) or, with --local, its script on this machine. */
async function glueRunnerFor(target: OperatorTarget, opts: VerifyCommandOptions): Promise<GlueVerifyRunner> {
  if (target.kind === 'local') {
    const sessionFile = opts.local === true || opts.local === undefined || opts.local === false ? DEFAULT_SESSION_FILE : opts.local;
    return localGlueVerifyRunnerForSession(sessionFile);
  }
  const config = loadConfig({ ...(opts.config === undefined ? {} : { config: opts.config }), ...(target.replication === undefined ? {} : { replication: target.replication }) });
  const deployed = await resolveDeployedTarget(config, target.name, opts);
  try {
    // Loaded here, not at the top: the Glue client is ~15 MB resident, which the scan engine's memory bound cannot spare.
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- see above
    const { awsGlueVerifyRunner, verifyJobName } = require('../verify/glue-runner-aws') as typeof import('../verify/glue-runner-aws');
    const runner = await awsGlueVerifyRunner({ glue: deployed.clients.glue, jobName: verifyJobName(deployed.outputs), region: deployed.region });
    return {
      ...runner,
      close: () => {
        runner.close();
        deployed.clients.destroy();
      },
    };
  } catch (error) {
    deployed.clients.destroy();
    throw error;
  }
}

function openReport(file: string): number {
  try {
    mkdirSync(dirname(file), { recursive: true });
    return openSync(file, 'w');
  } catch (error) {
    throw new CliError(`cannot write the verify report to ${file}: ${(error as Error).message}; pass --report with a writable path`, EXIT.failure, { cause: error });
  }
}

function describe(r: VerifyResult, name: string, selector: string, repaired: number, opts: Pick<VerifyCommandOptions, 'showValues' | 'repair'>, report: string | undefined): string {
  const differing = r.missing + r.extra + r.different;
  const scope = r.mode === 'full'
    ? `source ${r.sourceItems} items${r.outOfView > 0 ? ` (${r.outOfView} outside the target's view)` : ''}, target ${r.targetItems} items, ${r.mismatchingBuckets} of ${r.buckets} digest buckets differed`
    : `sample of ${r.checked} of ${r.sourceItems} source items (fraction ${r.sample}); items only in the target are not checked in sample mode`;
  const lines = [`verify target ${name}: ${scope}${r.interrupted ? ' (interrupted: incomplete)' : ''}`];
  // Interrupted: "equal" would be a false verdict — only part of the tables was compared.
  lines.push(differing === 0
    ? (r.interrupted ? 'no differences in the part compared before the interruption; run verify again for a verdict' : 'target equals source ✓')
    : `${differing} differences: ${r.missing} missing in the target, ${r.extra} extra in the target, ${r.different} different`);
  if (r.resolvedOnRecheck > 0) lines.push(`(${r.resolvedOnRecheck} more differed during the scan but matched when read again ${r.settledMs / 1000} s later: changes in flight)`);
  if (report !== undefined) lines.push(`every difference (keys only): ${report}`);
  if (r.diffs.length > 0) {
    lines.push(`first ${r.diffs.length} differences${opts.showValues === true ? '' : ' (keys only; --show-values prints the items)'}:`);
    for (const d of r.diffs) {
      lines.push(`  ${d.kind.padEnd(9)} ${JSON.stringify(d.keys)}`);
      if (opts.showValues === true) {
        lines.push(`    source: ${d.source === undefined ? '(none)' : JSON.stringify(d.source)}`);
        lines.push(`    target: ${d.target === undefined ? '(none)' : JSON.stringify(d.target)}`);
      }
    }
  }
  if (repaired > 0) {
    lines.push(`repair: enqueued ${repaired} RESYNC${repaired === 1 ? '' : 's'}; once the queue has drained (\`ddb-replicate status ${selector}\`), run \`ddb-replicate verify ${selector}\` again.`);
  } else if (differing > 0 && opts.repair !== true && !r.interrupted) {
    lines.push(`fix them with \`ddb-replicate verify ${selector} --repair\`.`);
  }
  return `${lines.join('\n')}\n`;
}

function parseSeconds(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0 || n > 3600) throw new InvalidArgumentError('must be a number of seconds from 0 to 3600, e.g. 30');
  return n;
}

/** Unknown lag: long enough for a healthy pipeline (seconds end to end) to have applied what was in flight. */
const SETTLE_UNKNOWN_LAG_MS = 10_000;

/** Twice the replication lag measured over the last minute, plus a second; capped at 5 minutes. */
export async function measuredSettleMs(target: Pick<OperatorTarget, 'health'>): Promise<number> {
  const lag = (await target.health()).lagLastMinute;
  const lagMs = lag?.maxMs ?? lag?.p99Ms;
  return lagMs === undefined ? SETTLE_UNKNOWN_LAG_MS : Math.min(2 * lagMs + 1000, 300_000);
}

/** Beside the local session file, in the directory .gitignore already leaves out. */
function defaultReportFile(name: string): string {
  return `.ddb-replicate/verify-${name}-${new Date().toISOString().replace(/[:.]/g, '-')}.jsonl`;
}

/** One JSON line per difference: kind and keys, never values. */
function writeReport(file: string, result: VerifyResult): string {
  try {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, result.differences.map((d) => `${JSON.stringify(d)}\n`).join(''));
  } catch (error) {
    throw new CliError(`cannot write the verify report to ${file}: ${(error as Error).message}; pass --report with a writable path`, EXIT.failure, { cause: error });
  }
  return file;
}
