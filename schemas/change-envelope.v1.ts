// Namespace import: lets esbuild tree-shake zod (`import { z }` bundles all of it, locales included: ~450 KB vs ~100 KB).
import * as z from 'zod';
import { attributeMapSchema } from './attribute-value';

/**
 * Change envelope, version 1 — the body of every message on a target's FIFO queue (docs/architecture.md#change-envelope).
 * Any change to this shape is a new version file (`change-envelope.v2.ts`) plus fixtures; consumers
 * fail a message whose `v` they do not know rather than guess.
 */
export const ENVELOPE_VERSION_1 = 1 as const;

/** SQS MessageGroupId: 1–128 of [A-Za-z0-9_-] (what groupIdFor produces is 43 long). */
export const GROUP_ID_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;

export const CHANGE_OPS = ['PUT', 'DELETE', 'RESYNC'] as const;
export const CHANGE_ORIGINS = ['user', 'ttl', 'replay', 'repair'] as const;

export const changeEnvelopeV1Schema = z.strictObject({
  v: z.literal(ENVELOPE_VERSION_1),
  op: z.enum(CHANGE_OPS),
  /** Source table name. */
  table: z.string().min(3).max(255),
  /** The item's primary key, raw AttributeValues. */
  keys: attributeMapSchema,
  /** The full new image, present for PUT only. */
  image: attributeMapSchema.optional(),
  /** Stream sequence number (empty for RESYNCs that do not come from the stream). */
  seq: z.string(),
  /** Epoch milliseconds of the change at the source (stream ApproximateCreationDateTime). */
  at: z.number().int().nonnegative(),
  /** Stream eventID; the FIFO deduplication id. */
  eventId: z.string().min(1).max(128),
  /** base64url(sha256(canonical partition key)); the FIFO MessageGroupId. */
  groupId: z.string().regex(GROUP_ID_PATTERN),
  origin: z.enum(CHANGE_ORIGINS),
}).superRefine((env, ctx) => {
  if (env.op === 'PUT' && env.image === undefined) {
    ctx.addIssue({ code: 'custom', path: ['image'], message: 'a PUT carries the full new image' });
  }
  if (env.op !== 'PUT' && env.image !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['image'], message: `a ${env.op} carries keys only, no image` });
  }
  if (Object.keys(env.keys).length === 0 || Object.keys(env.keys).length > 2) {
    ctx.addIssue({ code: 'custom', path: ['keys'], message: 'keys must hold the partition key and at most a sort key' });
  }
});

export type ChangeEnvelopeV1 = z.infer<typeof changeEnvelopeV1Schema>;
export type ChangeOp = (typeof CHANGE_OPS)[number];
export type ChangeOrigin = (typeof CHANGE_ORIGINS)[number];
