import { DescribeStreamCommand, type DynamoDBStreamsClient, type Shard } from '@aws-sdk/client-dynamodb-streams';

/**
 * Every shard of a DynamoDB stream, following DescribeStream's LastEvaluatedShardId pagination.
 * Used by the local pipe emulator (local/pipe-emulator.ts) and by cutover's stream tail
 * (cli/dr/stream-tail.ts).
 */
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
