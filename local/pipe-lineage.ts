import type { Shard } from '@aws-sdk/client-dynamodb-streams';

/**
 * Shard lineage for the pipe emulator. DynamoDB Streams splits a shard into children; records of one
 * item move from parent to child, so a child may be read only once its parent is exhausted (closed,
 * GetRecords returned no NextShardIterator). A parent that is no longer listed (trimmed after 24 h)
 * does not block its child. Listing the shards is common/stream-shards.ts. Pure logic, unit-tested in test/unit/pipe-lineage.test.ts.
 */

/**
 * The shards that may be read now, parents before children: not yet exhausted, and whose parent is
 * exhausted or not (any longer) part of the stream. Order: as listed, which DynamoDB gives oldest first.
 */
export function readableShards(shards: readonly Shard[], exhausted: ReadonlySet<string>): Shard[] {
  const listed = new Set(shards.map((s) => s.ShardId).filter((id): id is string => id !== undefined));
  return shards.filter((shard) => {
    if (shard.ShardId === undefined || exhausted.has(shard.ShardId)) return false;
    const parent = shard.ParentShardId;
    return parent === undefined || !listed.has(parent) || exhausted.has(parent);
  });
}
