import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import type { AttributeValueWire } from '../../schemas/attribute-value';
import { ownValue, setOwn, toSdkAttributeValue } from './attribute-value';

/**
 * DynamoDB allows an attribute named "__proto__", and DynamoDB Local returns it, but the SDK's JSON
 * deserializer (@smithy/core 3.41, JsonShapeDeserializer `_read` of a map) loses its value at the
 * top level of an item: it defines the key as `undefined` and then reads that `undefined` back
 * (nested maps come through intact). Found in this project by reading an item back from DynamoDB
 * Local; docs/decisions.md records it. This wraps a client so that such attributes survive: the raw
 * response body is kept when it mentions "__proto__" (rare, so nothing is parsed twice otherwise),
 * and every "__proto__" the SDK's output lacks is restored from it, converted as the SDK converts
 * AttributeValues. Writes are unaffected (the serializer handles the name).
 */
const RAW_BODY = Symbol('rawBodyWithProto');
const PROTO_BYTES = Buffer.from('__proto__');

type Context = Record<symbol, unknown>;
interface RawResponse { statusCode?: number; body?: unknown }

export function keepProtoAttributes<C extends DynamoDBClient | DynamoDBStreamsClient>(client: C): C {
  const stack = client.middlewareStack as unknown as {
    add(middleware: (next: (args: unknown) => Promise<{ output: unknown; response: unknown }>, context: Context) => (args: unknown) => Promise<{ output: unknown; response: unknown }>, options: { step: string; priority?: string; name: string }): void;
  };
  // Inside the deserializer (deserialize step, low priority): sees the HTTP response before it is parsed.
  stack.add((next, context) => async (args) => {
    const result = await next(args);
    const response = result.response as RawResponse;
    if (response.statusCode === 200 && response.body !== undefined) {
      const bytes = await readBody(response.body);
      response.body = bytes; // the deserializer accepts a Uint8Array body as is
      if (bytes.includes(PROTO_BYTES)) context[RAW_BODY] = JSON.parse(bytes.toString('utf8'));
    }
    return result;
  }, { step: 'deserialize', priority: 'low', name: 'keepProtoAttributesRawBody' });
  stack.add((next, context) => async (args) => {
    const result = await next(args);
    const raw = context[RAW_BODY];
    if (raw !== undefined) restoreProtoAttributes(result.output, raw);
    return result;
  }, { step: 'initialize', name: 'keepProtoAttributesRestore' });
  return client;
}

/** The bytes of an HTTP response body as a deserialize-step middleware sees it (a stream, or bytes a middleware put back). */
export async function readBody(body: unknown): Promise<Buffer> {
  if (body instanceof Uint8Array) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const chunks: Buffer[] = [];
  for await (const chunk of body as AsyncIterable<Uint8Array | string>) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk));
  return Buffer.concat(chunks);
}

/**
 * Walks the SDK output along the raw JSON (DynamoDB's JSON protocol keeps member names) and defines
 * every own "__proto__" the output lacks. A "__proto__" key in a DynamoDB response only ever names an
 * attribute, so its raw value is a wire AttributeValue.
 */
export function restoreProtoAttributes(output: unknown, raw: unknown): void {
  if (typeof output !== 'object' || output === null || typeof raw !== 'object' || raw === null) return;
  if (Array.isArray(raw)) {
    if (Array.isArray(output)) raw.forEach((element, i) => restoreProtoAttributes(output[i], element));
    return;
  }
  const out = output as Record<string, unknown>;
  for (const name of Object.keys(raw)) {
    const rawValue = (raw as Record<string, unknown>)[name];
    const current = ownValue(out, name);
    if (name === '__proto__' && current === undefined) setOwn(out, name, toSdkAttributeValue(rawValue as AttributeValueWire));
    else restoreProtoAttributes(current, rawValue);
  }
}
