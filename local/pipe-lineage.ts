import { DescribeStreamCommand, type DynamoDBStreamsClient, type Shard } from '@aws-sdk/client-dynamodb-streams';

/**
 * Shard lineage for the pipe emulator. DynamoDB Streams splits a shard into children; records of one
 * item move from parent to child, so a child may be read only once its parent is exhausted (closed,
 * GetRecords returned no NextShardIterator). A parent that is no longer listed (trimmed after 24 h)
 * does not block its child. Pure logic, unit-tested in test/unit/pipe-lineage.test.ts.
 */

/** Every shard of the stream, following DescribeStream's LastEvaluatedShardId pagination. */
export async function describeAllShards(client: DynamoDBStreamsClient, streamArn: string): Promise<Shard[]> {
  const shards: Shard[] = [];
  let exclusiveStartShardId: string | undefined;
  do {
    const out = await client.send(new DescribeStreamCommand({ StreamArn: streamArn, ExclusiveStartShardId: exclusiveStartShardId }));
    shards.push(...(out.StreamDescription?.Shards ?? []));
    exclusiveStartShardId = out.StreamDescription?.LastEvaluatedShardId;
  } while (exclusiveStartShardId !== undefined);
  return shards;
}

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
