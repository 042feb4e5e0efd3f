import type { Command } from 'commander';
import type { CommandContext } from '../index';
import { EXIT } from '../errors';
import { parsePositiveInt, withInterrupt, writeJson } from '../operator/args';
import { ProgressBar } from '../operator/progress';
import { runReplay, type ReplayResult } from '../operator/replay';
import { addTargetOptions, resolveTarget, type TargetSelection } from '../targets/resolve';

/** `ddb-replicate replay` — DLQ messages back into the queue as RESYNCs (cli/operator/replay.ts). */
interface ReplayCommandOptions extends TargetSelection {
  dryRun?: boolean;
  max?: number;
  json?: boolean;
}

export function registerReplay(program: Command, ctx: CommandContext): void {
  addTargetOptions(
    program
      .command('replay')
      .description('Replay the DLQ: enqueue a RESYNC of each dead-lettered change\'s key into the target\'s queue, then delete it from the DLQ.'),
  )
    .option('--dry-run', 'decode the DLQ messages and say what would be replayed; send and delete nothing')
    .option('--max <n>', 'replay at most n DLQ messages', parsePositiveInt(1_000_000))
    .option('--json', 'print one JSON line with the result on stdout')
    .addHelpText(
      'after',
      `
A RESYNC makes the apply re-read the item from the source table and write what is there now (or
delete it if it is gone), so a replay never writes an image older than the source's current item —
unlike a plain DLQ redrive of old images.

Safe to interrupt and re-run: each message is sent, then deleted; the RESYNC's deduplication id is
derived from the DLQ message id, so a re-run cannot send it twice within SQS's 5-minute
deduplication window (and a later duplicate only writes the current item again). Ctrl-C stops
after the current message.

Messages that are not valid envelopes stay in the DLQ and are listed by message id.

Exit codes: 0 replayed (or dry run); 1 undecodable messages were left in the DLQ, or a failure;
2 bad arguments; 130 interrupted.

Examples:
  $ ddb-replicate replay --target dr --dry-run
  $ ddb-replicate replay --target dr
  $ ddb-replicate replay --local`,
    )
    .action(async (opts: ReplayCommandOptions) => {
      const target = await resolveTarget(opts, ctx.io);
      try {
        const bar = new ProgressBar(ctx.io.stderr);
        const result = await withInterrupt(ctx.io, 'message', (signal) => runReplay({
          target,
          signal,
          ...(opts.dryRun === true ? { dryRun: true } : {}),
          ...(opts.max === undefined ? {} : { max: opts.max }),
          onProgress: (p) => bar.update(p.processed, opts.max === undefined ? p.dlqAtStart : Math.min(opts.max, p.dlqAtStart),
            `${opts.dryRun === true ? 'would replay' : 'replayed'} ${p.replayed}, undecodable ${p.undecodable}`),
        }));
        bar.done();
        if (opts.json === true) writeJson(ctx.io, { target: target.name, ...result });
        else ctx.io.stdout.write(describe(result, target.name, target.selector, opts));
        ctx.exitCode = result.interrupted ? EXIT.interrupted : result.undecodable.length > 0 ? EXIT.failure : EXIT.ok;
      } finally {
        target.close();
      }
    });
}

function describe(r: ReplayResult, name: string, selector: string, opts: ReplayCommandOptions): string {
  const lines: string[] = [];
  if (r.dryRun) {
    const seen = r.replayed + r.undecodable.length;
    const behind = Math.max(0, r.dlqAtStart - seen);
    lines.push(`replay of target ${name} (dry run, nothing sent or deleted): the DLQ holds ${r.dlqAtStart} message${r.dlqAtStart === 1 ? '' : 's'}; of the ${seen} read, ${r.replayed} would be replayed as RESYNC and ${r.undecodable.length} ${r.undecodable.length === 1 ? 'is' : 'are'} undecodable${r.interrupted ? ' (interrupted)' : ''}.`);
    if (behind > 0) {
      lines.push(`${behind} more wait behind those in their FIFO groups: SQS hides the rest of a group while one of its messages is held, so a dry run reads only the first message of each group; a real run reads them all.`);
    }
  } else {
    lines.push(`replay of target ${name}: replayed ${r.replayed} message${r.replayed === 1 ? '' : 's'} as RESYNC, ${r.undecodable.length} undecodable kept in the DLQ, ${r.remaining} remaining in the DLQ${r.interrupted ? ' (interrupted)' : ''}.`);
  }
  if (r.dryRun && r.plan.length > 0) {
    lines.push('would replay (DLQ message id → group, RESYNC event id, what had failed):');
    for (const p of r.plan) lines.push(`  ${p.messageId}  group ${p.groupId}  ${p.eventId}  ${p.failedOp} (${p.failedOrigin})`);
  }
  if (r.undecodable.length > 0) {
    lines.push('undecodable (kept in the DLQ; inspect them with `aws sqs receive-message`, then delete them):');
    for (const u of r.undecodable) lines.push(`  ${u.messageId}: ${u.reason}`);
  }
  if (r.notReleased > 0) lines.push(`${r.notReleased} kept messages become visible again when their visibility timeout ends.`);
  if (!r.dryRun && r.remaining > r.undecodable.length && !r.interrupted && opts.max === undefined) {
    lines.push(`the DLQ still holds messages (behind an undecodable one in its FIFO group, or dead-lettered during the replay): run \`ddb-replicate replay ${selector}\` again once the cause is fixed.`);
  }
  if (!r.dryRun && r.replayed > 0) lines.push(`the RESYNCs apply in order with the target's other changes; check with \`ddb-replicate status ${selector}\`.`);
  return `${lines.join('\n')}\n`;
}
