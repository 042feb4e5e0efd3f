import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as z from 'zod';
import { CliError, EXIT } from '../errors';

/**
 * The price list `ddb-replicate plan` computes with: one JSON file per Region
 * (cli/plan/prices.us-east-1.json), each price with the AWS page it comes from, plus the
 * project's own latency/size assumptions. `--prices FILE` replaces it whole.
 */

const price = z.strictObject({
  usd: z.number().nonnegative(),
  unit: z.string().min(1),
  source: z.url(),
  checkedAgainst: z.string().optional(),
});

const assumption = z.strictObject({ value: z.number().nonnegative(), note: z.string().min(1) });

export const priceListSchema = z.strictObject({
  region: z.string().min(1),
  currency: z.literal('USD'),
  checked: z.iso.date(),
  note: z.string().optional(),
  hoursPerMonth: z.number().positive(),
  prices: z.strictObject({
    pipesPerMillionRequests: price,
    lambdaPerMillionRequests: price,
    lambdaPerGbSecondArm: price,
    sqsFifoPerMillionRequests: price,
    dynamodbOnDemandPerMillionWriteRequestUnits: price,
    glueEtlPerDpuHour: price,
    cloudwatchPerMetricMonth: price,
    cloudwatchPerAlarmMonth: price,
    cloudwatchPerDashboardMonth: price,
    interRegionTransferPerGb: price,
  }),
  assumptions: z.strictObject({
    enrichInvokeMs: assumption,
    enrichBilledMs: assumption,
    sqsSendBatchMs: assumption,
    esmDeliveryMs: assumption,
    applyOverheadMs: assumption,
    rttSameRegionMs: assumption,
    rttCrossRegionMs: assumption,
    jsonExpansion: assumption,
    envelopeFixedKb: assumption,
    targetUtilization: assumption.refine((a) => a.value > 0 && a.value <= 1, { message: 'targetUtilization.value must be in (0, 1]' }),
    glueItemsPerSecondPerDpu: assumption.refine((a) => a.value > 0, { message: 'glueItemsPerSecondPerDpu.value must be > 0' }),
  }),
});
export type PriceList = z.infer<typeof priceListSchema>;

export const DEFAULT_PRICES_FILE = join(__dirname, 'prices.us-east-1.json');

/** Reads and validates a price list; a missing or invalid file is bad input (exit 2). */
export function loadPriceList(file: string = DEFAULT_PRICES_FILE): PriceList {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (cause) {
    throw new CliError(`cannot read the price list ${file}: ${(cause as Error).message}`, EXIT.badInput, { cause });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new CliError(`the price list ${file} is not JSON: ${(cause as Error).message}`, EXIT.badInput, { cause });
  }
  const parsed = priceListSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new CliError(`the price list ${file} is invalid at ${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'unknown'} (start from cli/plan/prices.us-east-1.json)`, EXIT.badInput);
  }
  return parsed.data;
}
