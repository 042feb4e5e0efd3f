import type { Command } from 'commander';
import type { CommandContext } from '../index';
import { writeJson } from '../operator/args';
import { bufferEstimate, setApplyEnabled } from '../operator/mapping';
import { formatDuration } from '../operator/status';
import { addTargetOptions, resolveTarget, type TargetSelection } from '../targets/resolve';

/** `ddb-replicate pause` — disable the apply's event source mapping (cli/operator/mapping.ts). */
interface PauseCommandOptions extends TargetSelection {
  json?: boolean;
}

export function registerPause(program: Command, ctx: CommandContext): void {
  addTargetOptions(
    program
      .command('pause')
      .description('Pause the apply of one target (disable its event source mapping); the pipe keeps buffering changes into the queue.'),
  )
    .option('--json', 'print one JSON line with the result on stdout')
    .addHelpText(
      'after',
      `
Waits until the mapping is Disabled. Changes keep flowing into the target's FIFO queue, which
keeps them for 14 days: pause says how long is left before SQS would start dropping the oldest.

Exit codes: 0 paused (or already paused); 1 failure; 2 bad arguments.

Examples:
  $ ddb-replicate pause --target dr
  $ ddb-replicate pause --local`,
    )
    .action(async (opts: PauseCommandOptions) => {
      const target = await resolveTarget(opts, ctx.io);
      try {
        const result = await setApplyEnabled({ target, enabled: false, onState: (state) => ctx.io.stderr.write(`event source mapping ${target.mapping.id}: ${state}\n`) });
        const buffer = await bufferEstimate(target);
        if (opts.json === true) {
          writeJson(ctx.io, { target: target.name, mapping: target.mapping.id, ...result, ...buffer });
          return;
        }
        const lines = [`apply of target ${target.name} is ${result.unchanged ? 'already ' : ''}paused (event source mapping ${target.mapping.id}: ${result.state}).`];
        const queued = buffer.queued === null ? 'an unknown number of' : String(buffer.queued);
        lines.push(buffer.queued === 0
          ? `The queue is empty; it buffers the changes that arrive now, keeping each for up to ${formatDuration(buffer.retentionSeconds)} (the queue's retention) before SQS drops it.`
          : buffer.bufferSeconds === null
          ? `The queue keeps buffering changes (${queued} queued now), each for up to ${formatDuration(buffer.retentionSeconds)} (the queue's retention); the oldest message's age is unknown${buffer.unreachable.length > 0 ? ` (${buffer.unreachable.join('; ')})` : ''}.`
          : `The queue keeps buffering changes (${queued} queued now): the oldest is ${formatDuration(buffer.oldestMessageAgeSeconds ?? 0)} old, so it can buffer for another ${formatDuration(buffer.bufferSeconds)} before SQS drops changes (retention ${formatDuration(buffer.retentionSeconds)}).`);
        lines.push(`Resume with \`ddb-replicate resume ${target.selector}\`.`);
        ctx.io.stdout.write(`${lines.join('\n')}\n`);
      } finally {
        target.close();
      }
    });
}
