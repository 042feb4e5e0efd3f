// Namespace import: lets esbuild tree-shake zod (`import { z }` bundles all of it, locales included: ~450 KB vs ~100 KB).
import * as z from 'zod';

/**
 * A DynamoDB AttributeValue in its JSON wire form, exactly as DynamoDB Streams, EventBridge Pipes
 * and the DynamoDB JSON export write it: numbers are strings, binaries are base64 strings.
 * Values are validated for shape only and never converted — a number keeps every digit.
 */
export type AttributeValueWire =
  | { S: string }
  | { N: string }
  | { B: string }
  | { SS: string[] }
  | { NS: string[] }
  | { BS: string[] }
  | { M: Record<string, AttributeValueWire> }
  | { L: AttributeValueWire[] }
  | { NULL: true }
  | { BOOL: boolean };

export type AttributeMapWire = Record<string, AttributeValueWire>;

/** DynamoDB's number grammar: up to 38 significant digits, exponent allowed. */
export const NUMBER_PATTERN = /^-?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
export const BASE64_PATTERN = /^[A-Za-z0-9+/]*={0,2}$/;

const numberString = z.string().regex(NUMBER_PATTERN, 'not a DynamoDB number');
const base64String = z.string().regex(BASE64_PATTERN, 'not base64');

export const attributeValueSchema: z.ZodType<AttributeValueWire> = z.lazy(() =>
  z.union([
    z.strictObject({ S: z.string() }),
    z.strictObject({ N: numberString }),
    z.strictObject({ B: base64String }),
    z.strictObject({ SS: z.array(z.string()).min(1) }),
    z.strictObject({ NS: z.array(numberString).min(1) }),
    z.strictObject({ BS: z.array(base64String).min(1) }),
    z.strictObject({ M: z.record(z.string(), attributeValueSchema) }),
    z.strictObject({ L: z.array(attributeValueSchema) }),
    z.strictObject({ NULL: z.literal(true) }),
    z.strictObject({ BOOL: z.boolean() }),
  ]),
);

export const attributeMapSchema: z.ZodType<AttributeMapWire> = z.record(z.string(), attributeValueSchema);
