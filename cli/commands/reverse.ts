import { existsSync, writeFileSync } from 'node:fs';
import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import type { Command } from 'commander';
import { DEFAULT_CONFIG_PATH } from '../../infra/config';
import { DEFAULT_SESSION_FILE } from '../../common/session-file';
import { startLocalReverse } from '../local/reverse';
import { operatorTargetTableClient } from '../aws/deployed-target';
import { awsCall } from '../aws/errors';
import { reverseConfig } from '../dr/reverse';
import { CliError, EXIT } from '../errors';
import type { CommandContext } from '../index';
import { untilSignal, writeJson } from '../operator/args';
import { loadConfigs, selectReplication } from '../targets/aws';

/** `ddb-replicate reverse` — write the config for replicating a cut-over target back (cli/dr/reverse.ts). */
interface ReverseCommandOptions {
  target?: string;
  local?: string | boolean;
  replication?: string;
  config: string;
  out: string;
  name?: string;
  backTarget: string;
  streamArn?: string;
  targetProfile?: string;
  force?: boolean;
  json?: boolean;
}

export const DEFAULT_REVERSE_CONFIG_PATH = 'replication.config.reverse.json' as const;

export function registerReverse(program: Command, ctx: CommandContext): void {
  program
    .command('reverse')
    .description('Write the config for failback: replicate the (now primary) target back into the old source; the forward target is removed from it.')
    .option('--target <name>', 'the target that became the primary')
    .option('--local [file]', `replicate a kept local session's target back into its source, until Ctrl-C (session file, default ${DEFAULT_SESSION_FILE})`)
    .option('--replication <name>', 'the replication (its replicationName); required when the config holds several')
    .option('--config <file>', 'the replication config', DEFAULT_CONFIG_PATH)
    .option('--out <file>', 'where to write the new config', DEFAULT_REVERSE_CONFIG_PATH)
    .option('--name <replicationName>', 'name of the reverse replication (default: <replication>-back)')
    .option('--back-target <name>', 'name of the old source as a target', 'origin')
    .option('--stream-arn <arn>', 'the target table\'s stream ARN (default: read with DescribeTable in the target account)')
    .option('--target-profile <profile>', 'AWS profile that may describe the target table (default: the default credential chain)')
    .option('--force', 'overwrite --out if it exists')
    .option('--json', 'print one JSON line with the result on stdout')
    .addHelpText(
      'after',
      `
The target table needs a stream with NEW_AND_OLD_IMAGES (it becomes the source); the command says
how to enable it when it has none. Nothing is deployed: deploy the new config (its access stack
goes to the old source's account), then bootstrap the old source, as for any new target.

Exit codes: 0 written; 1 the target table has no usable stream (the fix is printed) or a failure;
2 bad arguments (also: a filtered or redacted target, which is no full copy).

Examples:
  $ ddb-replicate reverse --target dr --target-profile dr-admin
  $ ddb-replicate reverse --local            # after cutover --local; Ctrl-C stops it
  $ ddb-replicate reverse --replication orders --target dr --stream-arn arn:aws:dynamodb:...:table/orders-replica/stream/2026-12-01T00:00:00.000`,
    )
    .action(async (opts: ReverseCommandOptions) => {
      if (opts.local !== undefined && opts.local !== false) {
        await runLocalReverse(opts.local === true ? DEFAULT_SESSION_FILE : opts.local, ctx);
        return;
      }
      if (opts.target === undefined) throw new CliError('--target is required (or --local for a kept local session)', EXIT.badInput);
      const configs = loadConfigs({ config: opts.config, notice: (line) => ctx.io.stderr.write(`${line}\n`) });
      const forward = selectReplication(configs, opts.replication);
      const target = forward.targets.find((t) => t.name === opts.target);
      if (target === undefined) throw new CliError(`target "${opts.target}" is not in the config; configured targets: ${forward.targets.map((t) => t.name).join(', ')}`, EXIT.badInput);
      if (existsSync(opts.out) && opts.force !== true) throw new CliError(`${opts.out} exists; choose another --out or pass --force`, EXIT.badInput);

      const streamArn = opts.streamArn ?? await targetStreamArn(target, opts.targetProfile);
      const result = reverseConfig(configs, {
        replication: forward.replicationName, target: target.name, streamArn, backTargetName: opts.backTarget,
        ...(opts.name === undefined ? {} : { name: opts.name }),
      });
      const content = result.configs.length === 1 ? result.configs[0] : { replications: result.configs };
      writeFileSync(opts.out, `${JSON.stringify(content, null, 2)}\n`);
      const back = result.reverse;
      const backTarget = back.targets[0];
      if (opts.json === true) {
        writeJson(ctx.io, { out: opts.out, reverse: back.replicationName, removed: result.removed, replications: result.configs.map((c) => c.replicationName) });
        return;
      }
      ctx.io.stdout.write([
        `wrote ${opts.out}: replication ${back.replicationName} copies ${target.tableName} (${target.account}, ${target.region}) back into ${backTarget.tableName} (${backTarget.account}, ${backTarget.region}); ${result.removed}.`,
        'Next:',
        `  1. review ${opts.out}, then make it the config (or pass -c replicationConfig=${opts.out} to cdk);`,
        `  2. deploy: npx cdk deploy -c replicationConfig=${opts.out} Ddbrepl-${back.replicationName} Ddbrepl-${back.replicationName}-${backTarget.name}-access`,
        `     (the access stack is deployed in the old source's account ${backTarget.account}; either order works);`,
        `  3. bring the old source up to date: ddb-replicate bootstrap --config ${opts.out} --replication ${back.replicationName} --target ${backTarget.name};`,
        `  4. the forward direction is gone from this config: destroy its stack when you no longer need it (its target is frozen).`,
        '',
      ].join('\n'));
    });
}

/** The target table's current stream, which must carry both images; else a CliError with the command that enables it. */
async function targetStreamArn(target: { tableName: string; region: string; account: string }, profile: string | undefined): Promise<string> {
  const client = operatorTargetTableClient(target, profile);
  try {
    const out = await awsCall('dynamodb:DescribeTable', `table ${target.tableName} (${target.account}, ${target.region})`, () => client.send(new DescribeTableCommand({ TableName: target.tableName })));
    const spec = out.Table?.StreamSpecification;
    const arn = out.Table?.LatestStreamArn;
    if (spec?.StreamEnabled === true && spec.StreamViewType === 'NEW_AND_OLD_IMAGES' && arn !== undefined) return arn;
    const enable = `aws dynamodb update-table --table-name ${target.tableName} --region ${target.region}${profile === undefined ? '' : ` --profile ${profile}`} --stream-specification StreamEnabled=true,StreamViewType=NEW_AND_OLD_IMAGES`;
    throw new CliError(
      `table ${target.tableName} has ${spec?.StreamEnabled === true ? `a ${spec.StreamViewType} stream` : 'no stream'}; the reverse replication reads its stream with both images. ` +
      `${spec?.StreamEnabled === true ? 'Disable it and enable it again with NEW_AND_OLD_IMAGES' : 'Enable it'}: ${enable}, then run reverse again`,
      EXIT.failure,
    );
  } finally {
    client.destroy();
  }
}

/** `reverse --local`: runs the reverse direction next to the kept session until Ctrl-C or SIGTERM. */
async function runLocalReverse(sessionFile: string, ctx: CommandContext): Promise<void> {
  let reverse;
  try {
    reverse = await startLocalReverse(sessionFile);
  } catch (error) {
    if (error instanceof CliError) throw error;
    throw new CliError(`reverse --local could not start: ${error instanceof Error ? error.message : String(error)}`, EXIT.failure, { cause: error });
  }
  ctx.io.stdout.write([
    `replicating the local target table back into the source table (stream ${reverse.streamArn}, queue ${reverse.queueUrl}).`,
    'Write to the target table now (it is the primary); Ctrl-C stops the reverse direction.',
    '',
  ].join('\n'));
  await untilSignal();
  await reverse.stop();
  ctx.io.stdout.write(`stopped; ${reverse.applied()} change(s) applied to the source.\n`);
}
