import { Template } from 'aws-cdk-lib/assertions';
import { fastApp, logicalIdOf, testConfig } from './support';

/** The queue key of target `dr` in the secured config (source account and Region). */
export const QUEUE_KEY_ARN = 'arn:aws:kms:eu-west-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab';
/** The target table key of target `dr` (target account and Region). */
export const TARGET_TABLE_KEY_ARN = 'arn:aws:kms:eu-central-1:222222222222:key/abcd1234-12ab-34cd-56ef-1234567890ab';
/** The existing topic target `eu-analytics` notifies in the secured config. */
export const ONCALL_TOPIC_ARN = 'arn:aws:sns:eu-west-1:111111111111:oncall';

/**
 * The test config with every security and alarm option used: `dr` has a customer queue key, a
 * target table key, tracing and the created alarm topic; `eu-analytics` notifies an existing topic
 * with its own thresholds.
 */
export function securedConfig() {
  return testConfig((input) => {
    const [dr, eu] = input.targets as Record<string, unknown>[];
    dr.options = { kmsKeyArn: QUEUE_KEY_ARN, tracing: true, alarms: { createTopic: true } };
    dr.targetTableKmsKeyArn = TARGET_TABLE_KEY_ARN;
    eu.options = { ...(eu.options as Record<string, unknown>), alarms: { topicArn: ONCALL_TOPIC_ARN, oldestMessageAgeSeconds: 600, lagP99Ms: 5000 } };
  });
}

/** Templates of the default and the secured app, synthesized once per test file. */
export interface Synths {
  plain: Template;
  secured: Template;
  securedDrAccess: Template;
}

export function synthBoth(): Synths {
  const plain = fastApp();
  const secured = fastApp(securedConfig());
  return {
    plain: Template.fromStack(plain.replicationStack),
    secured: Template.fromStack(secured.replicationStack),
    securedDrAccess: Template.fromStack(secured.targetAccessStacks.get('dr')!),
  };
}

export const TARGETS = { dr: 'dr', 'eu-analytics': 'euanalytics' } as const;
export type TargetName = keyof typeof TARGETS;

/** Logical id of a resource of target `target` by construct id, e.g. ('dr', 'AWS::SQS::Queue', 'Queue'). */
export function targetResourceId(template: Template, target: TargetName, type: string, constructId: string): string {
  return logicalIdOf(template, type, `Replication${TARGETS[target]}${constructId}`);
}

export const getAtt = (logicalId: string, attribute = 'Arn') => ({ 'Fn::GetAtt': [logicalId, attribute] });
export const ref = (logicalId: string) => ({ Ref: logicalId });

/** The statements of the one inline policy attached to role `roleId`, sorted so that comparisons ignore CDK's order. */
export function statementsOfRole(template: Template, roleId: string): unknown[] {
  const policies = Object.values(template.findResources('AWS::IAM::Policy')).filter((policy) =>
    (policy.Properties.Roles as unknown[]).some((role) => JSON.stringify(role) === JSON.stringify(ref(roleId))),
  );
  if (policies.length !== 1) throw new Error(`expected one policy on role ${roleId}, found ${policies.length}`);
  return sortStatements(policies[0].Properties.PolicyDocument.Statement as unknown[]);
}

export function sortStatements(statements: readonly unknown[]): unknown[] {
  return [...statements].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
}
