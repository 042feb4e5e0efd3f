import { Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import type { IConstruct } from 'constructs';
import { fastApp, testConfig } from './support';

/** Every acknowledgement in the tree, as `construct path: rule id` → reason. */
function acknowledgements(root: IConstruct): Map<string, string> {
  const found = new Map<string, string>();
  for (const construct of root.node.findAll()) {
    for (const entry of construct.node.metadata) {
      if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
      for (const [id, reason] of Object.entries(entry.data as Record<string, string>)) found.set(`${construct.node.path}: ${id}`, reason);
    }
  }
  return found;
}

describe('cdk-nag (AwsSolutions + Serverless)', () => {
  test('every stack synthesizes with no unacknowledged finding (continuous verification on for one target)', () => {
    const { replicationStack, targetAccessStacks } = fastApp(testConfig((input) => {
      (input.targets as Record<string, unknown>[])[0].continuousVerify = { autoRepair: true };
    }));
    for (const stack of [replicationStack, ...targetAccessStacks.values()]) {
      expect(() => Template.fromStack(stack)).not.toThrow();
    }
  });

  test('the packs really run: a non-compliant queue fails synth with its rule ids', () => {
    const { replicationStack } = fastApp();
    new Queue(replicationStack, 'NonCompliant', { encryption: QueueEncryption.UNENCRYPTED });
    expect(() => Template.fromStack(replicationStack)).toThrow(/AwsSolutions-SQS4[\s\S]*NonCompliant|NonCompliant[\s\S]*AwsSolutions-SQS4/);
  });

  test('acknowledgements are few, known, and each says why', () => {
    const { app } = fastApp(testConfig((input) => {
      (input.targets as Record<string, unknown>[])[0].continuousVerify = {};
    }));
    const acks = acknowledgements(app);
    // Rule ids without their `[finding]` suffix: each wildcard is acknowledged by its exact finding id.
    const ids = [...new Set([...acks.keys()].map((key) => key.replace(/^.*: (Annotation::)?/, '').replace(/\[.*$/, '')))].sort();
    expect(ids).toEqual([
      'AwsSolutions-IAM5',
      'AwsSolutions-L1',
      'AwsSolutions-S1',
      'AwsSolutions-SQS3',
      'Serverless-LambdaDLQ',
      'Serverless-LambdaEventSourceMappingDestination',
      'Serverless-LambdaLatestVersion',
      'Serverless-LambdaTracing',
      'Serverless-SQSRedrivePolicy',
    ]);
    for (const [where, reason] of acks) expect({ where, reason: reason.length >= 60 }).toEqual({ where, reason: true });
    // Wildcards and the unlogged buckets belong to the Glue jobs (initial load, verify: Glue logs, S3 prefixes, exports, reports) and the sampled-verify schedule (function versions).
    for (const where of acks.keys()) if (/AwsSolutions-(IAM5|S1)/.test(where)) expect(where).toMatch(/\/InitialLoad|\/VerifyJob|\/SampledVerify\w+\/SchedulerRole:/);
    // Runtime acknowledgements name the requirement they come from.
    for (const [where, reason] of acks) if (/LambdaLatestVersion|-L1$/.test(where)) expect(reason).toMatch(/nodejs22\.x/);
  });
});
