import type { Command } from 'commander';
import { DEFAULT_CONFIG_PATH } from '../../infra/config';
import { DEFAULT_SESSION_FILE } from '../../common/session-file';
import { CliError, EXIT } from '../errors';
import type { CliIo } from '../index';
import { awsTarget, loadConfigs, selectReplication } from './aws';
import { localTarget } from '../local/target';
import type { OperatorTarget } from './types';

/**
 * The target-resolution seam: one set of options on every operator command, one function that
 * turns them into OperatorTargets — deployed (config + stack outputs) or a kept local session.
 */
export interface TargetSelection {
  target?: string;
  /** `--replication NAME`: which replication of the config; required when it holds several. */
  replication?: string;
  /** `--local` alone: the default session file; `--local FILE`: that file. */
  local?: string | boolean;
  config?: string;
  stack?: string;
  region?: string;
  targetProfile?: string;
}

export function addTargetOptions(command: Command, opts: { targetProfile?: boolean } = {}): Command {
  command
    .option('--target <name>', 'the target (a name from the config); with --local the only target is "local"')
    .option('--local [file]', `operate the local session kept by \`ddb-replicate local --keep\` (session file, default ${DEFAULT_SESSION_FILE})`)
    .option('--config <file>', 'the replication config', DEFAULT_CONFIG_PATH)
    .option('--replication <name>', 'the replication (its replicationName); required when the config holds several')
    .option('--stack <name>', 'the replication stack (default: Ddbrepl-<replicationName>, as infra/app.ts names it)')
    .option('--region <region>', 'Region of the replication stack (default: the config\'s source.region)');
  if (opts.targetProfile === true) {
    command.option('--target-profile <profile>', 'AWS profile with read access to the target table in the target account (default: the default credential chain)');
  }
  return command;
}

function sessionFileOf(selection: TargetSelection): string | undefined {
  if (selection.local === undefined || selection.local === false) return undefined;
  return selection.local === true ? DEFAULT_SESSION_FILE : selection.local;
}

/** One target: `--target NAME`, or `--local [FILE]`. */
export async function resolveTarget(selection: TargetSelection, io: CliIo): Promise<OperatorTarget> {
  const sessionFile = sessionFileOf(selection);
  if (sessionFile !== undefined) return localTarget({ sessionFile, ...(selection.target === undefined ? {} : { targetName: selection.target }) });
  if (selection.target === undefined) {
    throw new CliError('--target is required (or --local for a kept local session)', EXIT.badInput);
  }
  const configs = loadConfigs({ ...selection, notice: (line) => io.stderr.write(`${line}\n`) });
  const config = selectReplication(configs, selection.replication);
  // Later commands printed for this target must name the replication when the config has several.
  return awsTarget(config, selection.target, configs.length > 1 ? { ...selection, replication: config.replicationName } : selection);
}

/** A configured target that could not be resolved (e.g. not deployed yet), when listing every target. */
export interface UnresolvedTarget {
  readonly replication?: string;
  readonly name: string;
  readonly error: string;
}

/**
 * `--target NAME` → that one (errors thrown); no --target → every configured target of the
 * replication (`--replication`), or of every replication in the config, where one that cannot be
 * resolved is returned as unresolved rather than hiding the others.
 */
export async function resolveTargets(selection: TargetSelection, io: CliIo): Promise<{ targets: OperatorTarget[]; unresolved: UnresolvedTarget[] }> {
  if (sessionFileOf(selection) !== undefined || selection.target !== undefined) return { targets: [await resolveTarget(selection, io)], unresolved: [] };
  const all = loadConfigs({ ...selection, notice: (line) => io.stderr.write(`${line}\n`) });
  const configs = selection.replication === undefined ? all : [selectReplication(all, selection.replication)];
  const targets: OperatorTarget[] = [];
  const unresolved: UnresolvedTarget[] = [];
  for (const config of configs) {
    const named = all.length > 1 ? { ...selection, replication: config.replicationName } : selection;
    for (const target of config.targets) {
      try {
        targets.push(await awsTarget(config, target.name, named));
      } catch (error) {
        // A missing stack fails every target alike: say it once — as an error when it is the only replication.
        if (error instanceof CliError && / not found in /.test(error.message) && configs.length === 1) {
          targets.forEach((t) => t.close());
          throw error;
        }
        unresolved.push({ replication: config.replicationName, name: target.name, error: error instanceof Error ? error.message : String(error) });
      }
    }
  }
  return { targets, unresolved };
}
