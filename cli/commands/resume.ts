import type { Command } from 'commander';
import type { CommandContext } from '../index';
import { writeJson } from '../operator/args';
import { setApplyEnabled } from '../operator/mapping';
import { queueDepth, totalDepth } from '../operator/queues';
import { addTargetOptions, resolveTarget, type TargetSelection } from '../targets/resolve';

/** `ddb-replicate resume` — enable the apply's event source mapping again (cli/operator/mapping.ts). */
interface ResumeCommandOptions extends TargetSelection {
  json?: boolean;
}

export function registerResume(program: Command, ctx: CommandContext): void {
  addTargetOptions(
    program
      .command('resume')
      .description('Resume the apply of one target (enable its event source mapping); the buffered changes are applied in order.'),
  )
    .option('--json', 'print one JSON line with the result on stdout')
    .addHelpText(
      'after',
      `
Waits until the mapping is Enabled.

Exit codes: 0 resumed (or already running); 1 failure; 2 bad arguments.

Examples:
  $ ddb-replicate resume --target dr
  $ ddb-replicate resume --local`,
    )
    .action(async (opts: ResumeCommandOptions) => {
      const target = await resolveTarget(opts, ctx.io);
      try {
        const result = await setApplyEnabled({ target, enabled: true, onState: (state) => ctx.io.stderr.write(`event source mapping ${target.mapping.id}: ${state}\n`) });
        const queued = totalDepth(await queueDepth(target.sqs, target.queueUrl));
        if (opts.json === true) {
          writeJson(ctx.io, { target: target.name, mapping: target.mapping.id, ...result, queued });
          return;
        }
        ctx.io.stdout.write(`apply of target ${target.name} is ${result.unchanged ? 'already ' : ''}running (event source mapping ${target.mapping.id}: ${result.state}); ${queued} queued changes to apply. Follow with \`ddb-replicate status ${target.selector}\`.\n`);
      } finally {
        target.close();
      }
    });
}
