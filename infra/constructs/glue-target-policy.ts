import type { KeySchema } from '../../handlers/core/key-schema';
import type { TargetFilter, TargetRedaction } from '../../schemas/replication-config';

// Without aws-cdk-lib: `verify --engine glue --local` builds the same argument (cli/local/glue-verify-runner.ts).

/**
 * `--target_policy`: what the script needs to compute an item's view for this target exactly as
 * handlers/core/target-policy.ts does — the filter's item conditions (partition-key prefixes,
 * attribute equalities) and the redaction. Event names and TTL settings are about changes, not items.
 */
export interface InitialLoadTargetPolicy {
  partitionKeyName: string;
  partitionKeyPrefixes: string[];
  attributeEquals: NonNullable<TargetFilter['attributeEquals']>;
  redaction: TargetRedaction | null;
}

export function initialLoadTargetPolicy(keySchema: KeySchema, filter: TargetFilter, redaction: TargetRedaction | undefined): InitialLoadTargetPolicy {
  return {
    partitionKeyName: keySchema.partitionKey.name,
    partitionKeyPrefixes: filter.partitionKeyPrefixes,
    attributeEquals: filter.attributeEquals ?? [],
    redaction: redaction ?? null,
  };
}
