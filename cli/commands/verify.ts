import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import type { CommandContext } from '../index';
import { CliError, EXIT } from '../errors';
import { parseFraction, parsePositiveInt, withInterrupt, writeJson } from '../operator/args';
import { ProgressBar } from '../operator/progress';
import { repairEnvelope, sendEnvelopes } from '../operator/queues';
import { DEFAULT_BUCKETS, runVerify, type VerifyResult } from '../operator/verify';
import { addTargetOptions, resolveTarget, type TargetSelection } from '../targets/resolve';
import type { OperatorTarget } from '../targets/types';

/** `ddb-replicate verify` — compare target with source (cli/operator/verify.ts), optionally repair. */
interface VerifyCommandOptions extends TargetSelection {
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
      .description('Compare the target table with the source in the target\'s view (filter, redaction): bucket digests of both tables in bounded memory, then the differing keys; report missing, extra and different items.'),
    { targetProfile: true },
  )
    .option('--segments <n>', 'parallel Scan segments per table', parsePositiveInt(1_000_000), 4)
    .option('--sample <fraction>', 'check only this fraction of the source items (GetItem on the target for each); e.g. 0.01', parseFraction)
    .option('--repair', 'enqueue a RESYNC for each differing key (the apply then writes the source\'s current item, or deletes the key)')
    .option('--show-values', 'print the differing items\' values (default: keys only)')
    .option('--limit <n>', 'how many differences to list', parsePositiveInt(100_000), 10)
    .option('--json', 'print one JSON line with the result on stdout')
    .option('--buckets <n>', 'digest buckets (memory: 64 bytes each); more buckets narrow pass 2 further', parsePositiveInt(1 << 24), DEFAULT_BUCKETS)
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
Between runs, the continuous sampled verification (continuousVerify in the config) checks a
sample every few minutes: see docs/operator-cli.md, "Three ways to verify".

In AWS the target table is in the target account: --target-profile names a profile with read
access to it (dynamodb:Scan, dynamodb:GetItem).

Exit codes: 0 target equals source; 1 differences found (also when --repair enqueued fixes: run
verify again to confirm) or a failure; 2 bad arguments; 130 interrupted.

Examples:
  $ ddb-replicate verify --target dr --target-profile dr-readonly
  $ ddb-replicate verify --target dr --target-profile dr-readonly --sample 0.01
  $ ddb-replicate verify --local --repair`,
    )
    .action(async (opts: VerifyCommandOptions) => {
      const target = await resolveTarget(opts, ctx.io);
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

function describe(r: VerifyResult, name: string, selector: string, repaired: number, opts: VerifyCommandOptions, report: string | undefined): string {
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
