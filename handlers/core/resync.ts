import { GetItemCommand, type DynamoDBClient, type WriteRequest } from '@aws-sdk/client-dynamodb';
import type { AttributeMapWire } from '../../schemas/attribute-value';
import { toSdkAttributeMap } from './attribute-value';
import { ResyncReadError } from './errors';

/**
 * Resolves a RESYNC: a strongly consistent GetItem on the source table (with the function's own
 * credentials, in the source Region) gives the item's state now, which is written to the target as
 * a put — or a delete if the item is gone. Re-reading is why a replayed or oversized change can
 * never regress an item that has moved on.
 */
export async function resyncWriteRequest(source: DynamoDBClient, sourceTableName: string, keys: AttributeMapWire, eventId: string): Promise<WriteRequest> {
  const Key = toSdkAttributeMap(keys);
  let item;
  try {
    ({ Item: item } = await source.send(new GetItemCommand({ TableName: sourceTableName, Key, ConsistentRead: true })));
  } catch (cause) {
    throw new ResyncReadError(`RESYNC ${eventId}: GetItem on the source table ${sourceTableName} failed`, { cause });
  }
  return item === undefined ? { DeleteRequest: { Key } } : { PutRequest: { Item: item } };
}
