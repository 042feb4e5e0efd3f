import { ScanCommand, type DynamoDBClient, type ScanCommandInput } from '@aws-sdk/client-dynamodb';
import { toSdkAttributeMap } from '../../handlers/core/attribute-value';
import { ReplicationError } from '../../handlers/core/errors';
import { readBody } from '../../handlers/core/proto-attributes';
import type { AttributeMapWire } from '../../schemas/attribute-value';

export interface WireScanInput extends Omit<ScanCommandInput, 'ExclusiveStartKey'> {
  /** A page's lastEvaluatedKey, as this function returned it. */
  readonly ExclusiveStartKey?: AttributeMapWire;
}

export interface WireScanPage {
  /** The items as DynamoDB sent them: wire form, N as decimal strings, B as base64. */
  readonly items: readonly AttributeMapWire[];
  readonly lastEvaluatedKey?: AttributeMapWire;
}

/** What the SDK's deserializer is handed once the body is taken: a Scan output with no members. */
const EMPTY_OUTPUT = new TextEncoder().encode('{}');

/**
 * One Scan page with its items as DynamoDB sent them, not converted by the SDK. verify reads every
 * item of two tables only to digest them, and the digest takes the wire form; the SDK's conversion
 * made a second copy of every item (B decoded to bytes, every AttributeValue rebuilt), which at
 * DynamoDB Local's scan rate was 30–50 MB of verify's peak RSS (docs/performance.md, "Holding the
 * old generation down"). The SDK still signs, sends and retries the request, and an error
 * response still becomes the SDK's exception: only a 200 response's body is read here, inside the
 * SDK's deserializer (deserialize step, low priority, as handlers/core/proto-attributes.ts reads it),
 * which then parses an empty object. JSON.parse keeps an attribute named "__proto__" as data.
 * `abortSignal` abandons the request in flight (the SDK's AbortError).
 */
export async function scanWirePage(client: DynamoDBClient, input: WireScanInput, abortSignal?: AbortSignal): Promise<WireScanPage> {
  const { ExclusiveStartKey, ...rest } = input;
  const command = new ScanCommand({ ...rest, ...(ExclusiveStartKey === undefined ? {} : { ExclusiveStartKey: toSdkAttributeMap(ExclusiveStartKey) }) });
  let page: WireScanPage | undefined;
  command.middlewareStack.add((next) => async (args) => {
    const result = await next(args);
    const response = result.response as { statusCode?: number; body?: unknown };
    if (response.statusCode === 200 && response.body !== undefined) {
      const text = (await readBody(response.body)).toString('utf8');
      let body: { Items?: AttributeMapWire[]; LastEvaluatedKey?: AttributeMapWire };
      try {
        body = JSON.parse(text) as typeof body;
      } catch (error) {
        throw new ReplicationError(`Scan of ${input.TableName ?? 'a table'} returned a body that is not JSON (${text.length} characters)`, { cause: error });
      }
      page = { items: body.Items ?? [], ...(body.LastEvaluatedKey === undefined ? {} : { lastEvaluatedKey: body.LastEvaluatedKey }) };
      response.body = EMPTY_OUTPUT;
    }
    return result;
  }, { step: 'deserialize', priority: 'low', name: 'wireScanPage' });
  await client.send(command, abortSignal === undefined ? {} : { abortSignal });
  // A success status is the only way send() returns, and every success has a body.
  if (page === undefined) throw new ReplicationError(`Scan of ${input.TableName ?? 'a table'} returned no body`);
  return page;
}
