import { restoreProtoAttributes } from '../../handlers/core/proto-attributes';

/**
 * The SDK's JSON deserializer (@smithy/core 3.41) leaves a top-level "__proto__" attribute as an own
 * property holding `undefined` (seen against DynamoDB Local; test/integration/proto-attributes.test.ts
 * covers the real round trip). restoreProtoAttributes puts the value back from the raw body.
 */
describe('restoreProtoAttributes', () => {
  const lossy = (): Record<string, unknown> => {
    const item: Record<string, unknown> = { pk: { S: 'a' } };
    Object.defineProperty(item, '__proto__', { value: undefined, enumerable: true, writable: true, configurable: true });
    return item;
  };

  it('restores lost top-level attributes in Item, Items and stream images, converting B to bytes as the SDK does', () => {
    const raw = JSON.parse('{"Item":{"pk":{"S":"a"},"__proto__":{"M":{"__proto__":{"B":"AAE="}}}},"Items":[{"pk":{"S":"a"},"__proto__":{"N":"1"}}],' +
      '"Records":[{"dynamodb":{"NewImage":{"pk":{"S":"a"},"__proto__":{"S":"x"}}}}]}') as unknown;
    const output = { Item: lossy(), Items: [lossy()], Records: [{ dynamodb: { NewImage: lossy(), ApproximateCreationDateTime: new Date(0) } }] };
    restoreProtoAttributes(output, raw);
    const top = Object.getOwnPropertyDescriptor(output.Item, '__proto__')?.value as { M: Record<string, { B: Uint8Array }> };
    expect(Object.getOwnPropertyDescriptor(top.M, '__proto__')?.value).toEqual({ B: new Uint8Array([0, 1]) });
    expect(Object.getOwnPropertyDescriptor(output.Items[0], '__proto__')?.value).toEqual({ N: '1' });
    expect(Object.getOwnPropertyDescriptor(output.Records[0].dynamodb.NewImage, '__proto__')?.value).toEqual({ S: 'x' });
    expect(Object.getPrototypeOf(output.Item)).toBe(Object.prototype);
    expect(Object.keys(output.Item)).toEqual(['pk', '__proto__']);
  });

  it('leaves values the SDK did deliver untouched', () => {
    const delivered = { S: 'kept' };
    const item: Record<string, unknown> = { pk: { S: 'a' } };
    Object.defineProperty(item, '__proto__', { value: delivered, enumerable: true, writable: true, configurable: true });
    restoreProtoAttributes({ Item: item }, JSON.parse('{"Item":{"pk":{"S":"a"},"__proto__":{"S":"raw"}}}'));
    expect(Object.getOwnPropertyDescriptor(item, '__proto__')?.value).toBe(delivered);
  });
});
