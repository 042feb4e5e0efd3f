import { CreateTableCommand, DeleteTableCommand, DynamoDBClient, BatchWriteItemCommand, type WriteRequest } from '@aws-sdk/client-dynamodb';

export const BENCH_REGION = 'us-east-1';
export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' } as const;

export function plainClient(endpoint: string): DynamoDBClient {
  return new DynamoDBClient({ region: BENCH_REGION, endpoint, credentials: LOCAL_CREDENTIALS });
}

export async function createTable(client: DynamoDBClient, name: string): Promise<void> {
  await client.send(new CreateTableCommand({
    TableName: name,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
    KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
  }));
}

export async function deleteTable(client: DynamoDBClient, name: string): Promise<void> {
  await client.send(new DeleteTableCommand({ TableName: name }));
}

/**
 * One BatchWriteItem, resubmitting UnprocessedItems until none are left — the ceiling the apply
 * handler is compared with, and the "raw" writer of the initial-load baseline: no backoff, no
 * bookkeeping, nothing but the calls.
 */
export async function rawBatchWrite(client: DynamoDBClient, table: string, requests: WriteRequest[]): Promise<void> {
  let pending = requests;
  while (pending.length > 0) {
    const out = await client.send(new BatchWriteItemCommand({ RequestItems: { [table]: pending } }));
    pending = out.UnprocessedItems?.[table] ?? [];
  }
}

/** Sets process.env entries; returns the function that restores the previous values. */
export function setEnv(values: Record<string, string | undefined>): () => void {
  const previous: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(values)) {
    previous[name] = process.env[name];
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  return () => {
    setEnv(previous);
  };
}
