import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AppProps } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { buildApp, type ReplicationApp } from '../../infra/app';
import { parseReplicationConfig, type ReplicationConfig } from '../../schemas/replication-config';

/**
 * Fast synth for template assertions: no esbuild bundling and no built-in CloudFormation validation
 * (~5 s per synth in 2.276). test/infra/synth.test.ts keeps both on once.
 */
export const FAST_APP_PROPS: AppProps = {
  // One assembly directory per test file, removed afterwards (an App without outdir leaks one per synth).
  outdir: mkdtempSync(join(tmpdir(), 'ddbrepl-infra-')),
  context: { 'aws:cdk:bundling-stacks': [] },
  builtinCloudFormationValidation: false,
};

afterAll(() => rmSync(FAST_APP_PROPS.outdir!, { recursive: true, force: true }));

export const SOURCE_ACCOUNT = '111111111111';
export const SOURCE_STREAM_ARN = 'arn:aws:dynamodb:eu-west-1:111111111111:table/orders/stream/2026-11-01T00:00:00.000';

/** Two targets: `dr` keeps everything with default options; `eu` is filtered and has every option changed. */
export function testConfigInput(): Record<string, unknown> {
  return {
    replicationName: 'orders',
    source: {
      account: SOURCE_ACCOUNT,
      region: 'eu-west-1',
      tableName: 'orders',
      tableStreamArn: SOURCE_STREAM_ARN,
      keySchema: { partitionKey: { name: 'pk', type: 'S' }, sortKey: { name: 'sk', type: 'N' } },
    },
    targets: [
      { name: 'dr', account: '222222222222', region: 'eu-central-1', tableName: 'orders-replica', externalId: 'orders-dr-7f3c1a' },
      {
        name: 'eu-analytics',
        account: '333333333333',
        region: 'eu-west-3',
        tableName: 'orders-analytics',
        externalId: 'orders-analytics-91be02',
        filter: { eventNames: ['INSERT', 'REMOVE'], replicateTtlDeletes: false, partitionKeyPrefixes: ['EU#', 'FR#'] },
        options: {
          startingPosition: 'LATEST',
          pipeBatchSize: 5,
          applyBatchSize: 5,
          maximumConcurrency: 20,
          maxReceiveCount: 3,
          resyncThresholdBytes: 100_000,
          applyMemoryMb: 1024,
          applyTimeoutSeconds: 30,
          logLevel: 'DEBUG',
        },
      },
    ],
  };
}

export function testConfig(mutate?: (input: Record<string, unknown>) => void): ReplicationConfig {
  const input = testConfigInput();
  mutate?.(input);
  return parseReplicationConfig(input);
}

export function fastApp(config: ReplicationConfig = testConfig()): ReplicationApp {
  return buildApp(config, { appProps: FAST_APP_PROPS });
}

/** The one resource of `type` whose logical id starts with the construct path's id prefix, e.g. `ReplicationdrQueue`. */
export function logicalIdOf(template: Template, type: string, prefix: string): string {
  const ids = Object.keys(template.findResources(type)).filter((id) => id.startsWith(prefix) && /^[0-9A-F]{8}$/.test(id.slice(prefix.length)));
  if (ids.length !== 1) throw new Error(`expected one ${type} with logical id ${prefix}<hash>, found ${JSON.stringify(ids)}`);
  return ids[0];
}
