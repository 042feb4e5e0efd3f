import { GetItemCommand, type DynamoDBClient, type WriteRequest } from '@aws-sdk/client-dynamodb';
import type { AttributeMapWire } from '../../schemas/attribute-value';
import { toSdkAttributeMap, toWireAttributeMap } from './attribute-value';
import { ResyncReadError } from './errors';
import type { TargetPolicy } from './target-policy';

/**
 * Resolves a RESYNC: a strongly consistent GetItem on the source table (with the function's own
 * credentials, in the source Region) gives the item's state now, which is written to the target as
 * a put of this target's view of it (filter and redaction, target-policy.ts) — or a delete if the
 * item is gone or outside the view. Re-reading is why a replayed or oversized change can never
 * regress an item that has moved on; the view is why it can never bypass the target's policy.
 */
export async function resyncWriteRequest(
  source: DynamoDBClient,
  sourceTableName: string,
  keys: AttributeMapWire,
  eventId: string,
  view?: TargetPolicy['view'],
): Promise<WriteRequest> {
  const Key = toSdkAttributeMap(keys);
  let item;
  try {
    ({ Item: item } = await source.send(new GetItemCommand({ TableName: sourceTableName, Key, ConsistentRead: true })));
  } catch (cause) {
    throw new ResyncReadError(`RESYNC ${eventId}: GetItem on the source table ${sourceTableName} failed`, { cause });
  }
  if (item === undefined) return { DeleteRequest: { Key } };
  if (view === undefined) return { PutRequest: { Item: item } };
  const seen = view(toWireAttributeMap(item));
  return seen === undefined ? { DeleteRequest: { Key } } : { PutRequest: { Item: toSdkAttributeMap(seen) } };
}
