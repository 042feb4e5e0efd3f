import { randomBytes } from 'node:crypto';
import { InvalidReplicationConfigError, parseReplicationConfigs, replicationConfigSchema, type ReplicationConfig, type TargetConfig } from '../../schemas/replication-config';
import { CliError, EXIT } from '../errors';

/**
 * Failback by reverse replication (docs/disaster-recovery.md): the config for replicating the new
 * primary (the cut-over target) back into the old source. The old source becomes a target; the
 * access stack then goes to the old source's account. The forward target is removed from the
 * config (its replication too, when it had no other target), because a table may never be source
 * and target of the same pair at once — `parseReplicationConfigs` refuses such a loop.
 */
export interface ReverseOptions {
  readonly replication: string;
  readonly target: string;
  /** The target table's stream (NEW_AND_OLD_IMAGES), the new source stream. */
  readonly streamArn: string;
  /** @default `back-<replication>` (not `<replication>-…`, which could clash with the forward names) */
  readonly name?: string;
  /** Name of the old source as a target. @default 'origin' */
  readonly backTargetName?: string;
  /** @default a random one */
  readonly externalId?: string;
}

export interface ReverseResult {
  /** Every replication of the new config, validated (loop check included). */
  readonly configs: ReplicationConfig[];
  readonly reverse: ReplicationConfig;
  /** What was taken out of the forward direction, in words. */
  readonly removed: string;
}

/** Why a target is not a full copy of its source (and so can be neither cut over to nor replicated back); undefined if it is. */
export function partialViewReason(target: TargetConfig): string | undefined {
  const f = target.filter;
  const reasons = [
    ...(f.eventNames.length < 3 ? [`filter.eventNames (${f.eventNames.join(', ')})`] : []),
    ...(!f.replicateTtlDeletes ? ['filter.replicateTtlDeletes: false'] : []),
    ...(f.partitionKeyPrefixes.length > 0 ? ['filter.partitionKeyPrefixes'] : []),
    ...(f.attributeEquals !== undefined ? ['filter.attributeEquals'] : []),
    ...(target.redaction !== undefined ? ['redaction'] : []),
    ...(target.initialLoad.excludeAttributes.length > 0 ? ['initialLoad.excludeAttributes'] : []),
  ];
  return reasons.length === 0 ? undefined : `target ${target.name} receives a partial view of its source (${reasons.join('; ')})`;
}

export function reverseConfig(configs: readonly ReplicationConfig[], opts: ReverseOptions): ReverseResult {
  const forward = configs.find((c) => c.replicationName === opts.replication);
  if (forward === undefined) throw new CliError(`replication "${opts.replication}" is not in the config`, EXIT.badInput);
  const target = forward.targets.find((t) => t.name === opts.target);
  if (target === undefined) throw new CliError(`target "${opts.target}" is not in replication ${forward.replicationName}; configured targets: ${forward.targets.map((t) => t.name).join(', ')}`, EXIT.badInput);
  const partial = partialViewReason(target);
  if (partial !== undefined) throw new CliError(`${partial}: replicating it back would overwrite ${forward.source.tableName} with that view`, EXIT.badInput);

  const name = opts.name ?? `back-${forward.replicationName}`;
  const reverseInput = {
    replicationName: name,
    source: { account: target.account, region: target.region, tableName: target.tableName, tableStreamArn: opts.streamArn, keySchema: forward.source.keySchema },
    targets: [{
      name: opts.backTargetName ?? 'origin',
      account: forward.source.account,
      region: forward.source.region,
      tableName: forward.source.tableName,
      externalId: opts.externalId ?? `${name}-${randomBytes(8).toString('hex')}`,
    }],
  };
  const parsed = replicationConfigSchema.safeParse(reverseInput);
  if (!parsed.success) {
    throw new CliError(`the reverse replication is invalid: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}${opts.name === undefined ? ' (choose its name with --name)' : ''}`, EXIT.badInput);
  }
  const remaining = forward.targets.filter((t) => t.name !== target.name);
  const kept = configs.flatMap((c) => (c !== forward ? [c] : remaining.length > 0 ? [{ ...c, targets: remaining }] : []));
  const removed = remaining.length > 0
    ? `target ${target.name} removed from replication ${forward.replicationName}`
    : `replication ${forward.replicationName} removed (${target.name} was its only target)`;
  // Validates the whole set: names, shared sources, loops.
  let all: ReplicationConfig[];
  try {
    all = parseReplicationConfigs({ replications: [...kept, parsed.data] }, 'the reverse config');
  } catch (error) {
    if (!(error instanceof InvalidReplicationConfigError)) throw error;
    throw new CliError(`${error.message}${opts.name === undefined ? '\n(choose the reverse replication\'s name with --name)' : ''}`, EXIT.badInput, { cause: error });
  }
  return { configs: all, reverse: all[all.length - 1], removed };
}
