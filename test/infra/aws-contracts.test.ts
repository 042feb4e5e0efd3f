import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import { buildApp } from '../../infra/app';
import { parseReplicationConfig, type ReplicationConfig } from '../../schemas/replication-config';
import { FAST_APP_PROPS, testConfigInput } from './support';

/**
 * docs/aws-contracts.md, held against the synthesized templates: every pipe, queue, event source
 * mapping, function and role (and its policies) of two configs is walked and checked against the
 * AWS behaviour the design relies on. The facts and their documentation URLs are in that file; each
 * `contract` below names its row.
 */

type Json = Record<string, unknown>;
interface Resource { Type: string; Properties: Json; DependsOn?: string[] }
type Resources = Record<string, Resource>;

const ONE_MIB = 1_048_576;
const LAMBDA_PAYLOAD_BYTES = 6 * 1024 * 1024;
const SQS_MAX_RETENTION_SECONDS = 1_209_600;
const SQS_MAX_VISIBILITY_SECONDS = 43_200;

/** The example config as shipped (what `npx cdk synth` deploys on a fresh checkout). */
function exampleConfig(): ReplicationConfig {
  return parseReplicationConfig(JSON.parse(readFileSync(resolve(__dirname, '..', '..', 'replication.config.example.json'), 'utf8')), 'replication.config.example.json');
}

/**
 * Four targets on one stream: `dr` and `eu` own the two pipes, `third` attaches to `dr` and `fourth`
 * to `eu` (TableReplication's placement); filters on keys, attributes, event names and TTL;
 * redaction; a source table key and a queue key.
 */
function fourTargetConfig(): ReplicationConfig {
  const input = testConfigInput();
  (input.source as Json).kmsKeyArn = 'arn:aws:kms:eu-west-1:111111111111:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0';
  input.targets = [
    { name: 'dr', account: '222222222222', region: 'eu-central-1', tableName: 'orders-replica', externalId: 'orders-dr-7f3c1a' },
    {
      name: 'eu', account: '333333333333', region: 'eu-west-3', tableName: 'orders-eu', externalId: 'orders-eu-91be02',
      filter: { eventNames: ['INSERT', 'MODIFY', 'REMOVE'], replicateTtlDeletes: false, partitionKeyPrefixes: ['EU#'], attributeEquals: [{ attribute: 'status', anyOf: [{ S: 'active' }, { S: 'draft' }] }] },
      redaction: { redact: ['email'], redactWith: { sha256: true } },
      options: { kmsKeyArn: 'arn:aws:kms:eu-west-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab', applyTimeoutSeconds: 30, maxReceiveCount: 3 },
    },
    {
      name: 'third', account: '444444444444', region: 'us-east-1', tableName: 'orders-us', externalId: 'orders-us-5d1e0f',
      filter: { eventNames: ['INSERT', 'MODIFY'], partitionKeyPrefixes: ['US#'] },
    },
    {
      name: 'fourth', account: '555555555555', region: 'eu-north-1', tableName: 'orders-audit', externalId: 'orders-audit-0a9b8c',
      filter: { replicateTtlDeletes: false, partitionKeyPrefixes: ['AUDIT#'] },
      redaction: { exclude: ['notes'] },
    },
  ];
  return parseReplicationConfig(input);
}

interface Synth { name: string; replication: Resources; targetAccess: Resources[]; config: ReplicationConfig }

function synth(name: string, config: ReplicationConfig): Synth {
  const app = buildApp(config, { appProps: FAST_APP_PROPS });
  const resources = (stack: Parameters<typeof Template.fromStack>[0]) => Template.fromStack(stack).toJSON().Resources as Resources;
  return { name, config, replication: resources(app.replicationStack), targetAccess: [...app.targetAccessStacks.values()].map(resources) };
}

const synths: Synth[] = [synth('example', exampleConfig()), synth('four targets', fourTargetConfig())];

const ofType = (resources: Resources, type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
const getAttId = (value: unknown): string | undefined => ((value as { 'Fn::GetAtt'?: [string, string] })?.['Fn::GetAtt'] ?? [])[0];
const refId = (value: unknown): string | undefined => (value as { Ref?: string })?.Ref;
const asArray = <T>(value: T | T[] | undefined): T[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);

/** Leaf paths of an event pattern, e.g. `dynamodb.Keys.pk.S`. */
function leafPaths(pattern: Json, prefix: string[] = []): string[] {
  return Object.entries(pattern).flatMap(([k, v]) => (Array.isArray(v) ? [[...prefix, k].join('.')] : leafPaths(v as Json, [...prefix, k])));
}

/** The policies attached to a role (by logical id). */
function policiesOf(resources: Resources, roleId: string): [string, Resource][] {
  return ofType(resources, 'AWS::IAM::Policy').filter(([, p]) => asArray(p.Properties.Roles as unknown[]).some((r) => refId(r) === roleId));
}

describe.each(synths)('$name', ({ replication, targetAccess, config }) => {
  const pipes = ofType(replication, 'AWS::Pipes::Pipe');
  const queues = Object.fromEntries(ofType(replication, 'AWS::SQS::Queue'));
  const functions = Object.fromEntries(ofType(replication, 'AWS::Lambda::Function'));
  const mappings = ofType(replication, 'AWS::Lambda::EventSourceMapping');

  test('the walk sees every kind of resource it checks', () => {
    expect(pipes.length).toBe(Math.min(config.targets.length, 2));
    expect(Object.keys(queues)).toHaveLength(config.targets.length * 2 + pipes.length);
    expect(mappings).toHaveLength(config.targets.length);
    expect(targetAccess).toHaveLength(config.targets.length);
    // The four-target config's `eu` pipe filters with the union of its and `fourth`'s patterns, so the filter checks below bite.
    const filtered = pipes.filter(([, p]) => (p.Properties.SourceParameters as Json).FilterCriteria !== undefined);
    expect(filtered).toHaveLength(config.targets.some((t) => t.filter.partitionKeyPrefixes.length > 0) ? 1 : 0);
  });

  test('DynamoDB Streams: at most two pipes read one stream', () => {
    const perSource = new Map<string, number>();
    for (const [, pipe] of pipes) perSource.set(JSON.stringify(pipe.Properties.Source), (perSource.get(JSON.stringify(pipe.Properties.Source)) ?? 0) + 1);
    for (const count of perSource.values()) expect(count).toBeLessThanOrEqual(2);
  });

  describe.each(pipes.map(([id, pipe]) => [id, pipe] as const))('pipe %s', (_pipeId, pipe) => {
    const source = (pipe.Properties.SourceParameters as Json).DynamoDBStreamParameters as Json;
    const targetQueue = queues[getAttId(pipe.Properties.Target)!];
    const enrich = functions[getAttId(pipe.Properties.Enrichment)!];

    test('contract "pipe batch ≤ target batch": BatchSize ≤ 10 for its SQS queue target', () => {
      expect(targetQueue.Type).toBe('AWS::SQS::Queue');
      expect(source.BatchSize).toBeGreaterThanOrEqual(1);
      expect(source.BatchSize).toBeLessThanOrEqual(10);
    });

    test('contract "filter on dynamodb only": ≤ 5 filters, each ≤ 4096 characters, every field under dynamodb', () => {
      const criteria = (pipe.Properties.SourceParameters as Json).FilterCriteria as { Filters: { Pattern: string }[] } | undefined;
      if (criteria === undefined) return;
      expect(criteria.Filters.length).toBeGreaterThanOrEqual(1);
      expect(criteria.Filters.length).toBeLessThanOrEqual(5);
      for (const { Pattern } of criteria.Filters) {
        expect(Pattern.length).toBeLessThanOrEqual(4096);
        const pattern = JSON.parse(Pattern) as Json;
        expect(Object.keys(pattern)).toEqual(['dynamodb']);
        for (const path of leafPaths(pattern)) expect(path).toMatch(/^dynamodb\.(Keys|NewImage|OldImage)\./);
      }
    });

    test('contract "pipe → policy": the pipe depends on its role and on every policy of that role', () => {
      const roleId = getAttId(pipe.Properties.RoleArn)!;
      const policies = policiesOf(replication, roleId).map(([id]) => id);
      expect(policies.length).toBeGreaterThanOrEqual(1);
      expect(pipe.DependsOn).toEqual(expect.arrayContaining([roleId, ...policies]));
    });

    test('contract "MessageGroupId / dedup id": dynamic paths $.groupId and $.eventId into a FIFO queue with explicit dedup', () => {
      expect((pipe.Properties.TargetParameters as Json).SqsQueueParameters).toEqual({ MessageGroupId: '$.groupId', MessageDeduplicationId: '$.eventId' });
      expect(targetQueue.Properties).toMatchObject({ FifoQueue: true, ContentBasedDeduplication: false });
    });

    test('contract "stream retries": finite retries, bisect on failure, failures to a standard pipe DLQ', () => {
      expect(source.MaximumRetryAttempts).toEqual(expect.any(Number));
      expect(source.OnPartialBatchItemFailure).toBe('AUTOMATIC_BISECT');
      const dlq = queues[getAttId((source.DeadLetterConfig as Json).Arn)!];
      expect(dlq.Properties.FifoQueue).toBeUndefined();
    });

    test('contracts "SendMessageBatch ≤ 1 MiB" and "enrichment response ≤ 6 MB": a full batch of the largest envelopes fits both', () => {
      const threshold = Number((enrich.Properties.Environment as { Variables: Json }).Variables.RESYNC_THRESHOLD_BYTES);
      expect(threshold).toBeGreaterThan(0);
      expect((source.BatchSize as number) * threshold).toBeLessThanOrEqual(ONE_MIB);
      expect((source.BatchSize as number) * threshold).toBeLessThan(LAMBDA_PAYLOAD_BYTES);
    });
  });

  test('contract "retention": every queue keeps messages 14 days, the SQS maximum', () => {
    for (const [id, queue] of Object.entries(queues)) expect({ id, retention: queue.Properties.MessageRetentionPeriod }).toEqual({ id, retention: SQS_MAX_RETENTION_SECONDS });
  });

  test('contract "encryption": every queue is encrypted, by SQS-managed SSE or by a named key', () => {
    for (const [id, queue] of Object.entries(queues)) {
      const sse = queue.Properties.SqsManagedSseEnabled === true;
      const key = typeof queue.Properties.KmsMasterKeyId === 'string';
      expect({ id, oneOf: sse !== key }).toEqual({ id, oneOf: true });
    }
  });

  test('contracts "FIFO DLQ" and "maxReceiveCount": a FIFO queue redrives to a FIFO DLQ after 1–1000 receives', () => {
    const redriven = Object.entries(queues).filter(([, q]) => q.Properties.RedrivePolicy !== undefined);
    expect(redriven).toHaveLength(config.targets.length);
    for (const [id, queue] of redriven) {
      const policy = queue.Properties.RedrivePolicy as { deadLetterTargetArn: unknown; maxReceiveCount: number };
      expect(queue.Properties.FifoQueue).toBe(true);
      expect(queues[getAttId(policy.deadLetterTargetArn)!].Properties.FifoQueue).toBe(true);
      expect({ id, ok: policy.maxReceiveCount >= 1 && policy.maxReceiveCount <= 1000 }).toEqual({ id, ok: true });
    }
  });

  test('contract "high-throughput FIFO": every target queue scopes dedup and throughput per message group', () => {
    for (const [, queue] of Object.entries(queues).filter(([, q]) => q.Properties.RedrivePolicy !== undefined)) {
      expect(queue.Properties).toMatchObject({ DeduplicationScope: 'messageGroup', FifoThroughputLimit: 'perMessageGroupId', ContentBasedDeduplication: false });
    }
  });

  describe.each(mappings.map(([id, m]) => [id, m] as const))('event source mapping %s', (_id, mapping) => {
    const queue = queues[getAttId(mapping.Properties.EventSourceArn)!];
    const fn = functions[refId(mapping.Properties.FunctionName)!];

    test('contracts "FIFO ESM batch ≤ 10" and "ReportBatchItemFailures": batch ≤ 10, partial batch responses, no batching window', () => {
      expect(queue.Properties.FifoQueue).toBe(true);
      expect(mapping.Properties.BatchSize).toBeLessThanOrEqual(10);
      expect(mapping.Properties.FunctionResponseTypes).toEqual(['ReportBatchItemFailures']);
      expect(mapping.Properties.MaximumBatchingWindowInSeconds).toBeUndefined();
      const concurrency = (mapping.Properties.ScalingConfig as { MaximumConcurrency: number }).MaximumConcurrency;
      expect(concurrency).toBeGreaterThanOrEqual(2);
      expect(concurrency).toBeLessThanOrEqual(1000);
    });

    test('contract "visibility ≥ 6 × timeout": the queue\'s visibility timeout is at least six function timeouts and at most 12 h', () => {
      const visibility = queue.Properties.VisibilityTimeout as number;
      expect(visibility).toBeGreaterThanOrEqual(6 * (fn.Properties.Timeout as number));
      expect(visibility).toBeLessThanOrEqual(SQS_MAX_VISIBILITY_SECONDS);
    });

    test('contract "metrics dimensions": the apply function knows its replication and its target', () => {
      const env = (fn.Properties.Environment as { Variables: Json }).Variables;
      expect(env).toMatchObject({ REPLICATION_NAME: config.replicationName, TARGET_NAME: expect.any(String), TARGET_EXTERNAL_ID: expect.any(String) });
    });
  });

  test('contract "Lambda limits": every function timeout ≤ 900 s', () => {
    for (const [id, fn] of Object.entries(functions)) expect({ id, ok: (fn.Properties.Timeout as number) <= 900 }).toEqual({ id, ok: true });
  });

  // Only actions without resource-level permissions may name "*": CloudWatch PutMetricData (held to one namespace) and X-Ray writes.
  const STAR_ONLY_ACTIONS = new Set(['cloudwatch:PutMetricData', 'xray:PutTraceSegments', 'xray:PutTelemetryRecords']);
  test('contract "least privilege": Resource "*" only for actions that have no resource-level permissions; KMS grants name their key', () => {
    for (const [id, policy] of ofType(replication, 'AWS::IAM::Policy')) {
      for (const statement of (policy.Properties.PolicyDocument as { Statement: { Action: unknown; Resource: unknown }[] }).Statement) {
        if (!asArray(statement.Resource).includes('*')) continue;
        const actions = asArray(statement.Action as string | string[]);
        expect({ id, actions, ok: actions.every((a) => STAR_ONLY_ACTIONS.has(a)) }).toEqual({ id, actions, ok: true });
      }
    }
  });

  test('contract "source table key": with source.kmsKeyArn the pipe, apply and load roles get kms:Decrypt on exactly it; without, no one', () => {
    const decrypts = ofType(replication, 'AWS::IAM::Policy').flatMap(([, p]) => (p.Properties.PolicyDocument as { Statement: { Action: unknown; Resource: unknown }[] }).Statement)
      .filter((s) => config.source.kmsKeyArn !== undefined && s.Resource === config.source.kmsKeyArn);
    const readers = pipes.length + config.targets.length * 3; // pipe roles + apply, initial-load and verify-job roles
    expect(decrypts).toHaveLength(config.source.kmsKeyArn === undefined ? 0 : readers);
    for (const statement of decrypts) expect(statement.Action).toBe('kms:Decrypt');
  });

  test('contract "AssumeRole ExternalId": every target role trusts the source account only with the ExternalId', () => {
    for (const resources of targetAccess) {
      const roles = ofType(resources, 'AWS::IAM::Role');
      expect(roles).toHaveLength(1);
      for (const [, role] of roles) {
        for (const statement of (role.Properties.AssumeRolePolicyDocument as { Statement: { Principal: Json; Condition?: Json }[] }).Statement) {
          expect(statement.Principal.AWS).toBeDefined();
          expect(statement.Condition).toMatchObject({ StringEquals: { 'sts:ExternalId': expect.any(String) } });
        }
      }
    }
  });
});
