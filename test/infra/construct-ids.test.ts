import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import type { Stack } from 'aws-cdk-lib';
import { parseReplicationConfig } from '../../schemas/replication-config';
import { fastApp, testConfig } from './support';

/**
 * Construct ids are part of the contract: a changed logical id makes CloudFormation replace the
 * resource — a queue with messages in it, a role the target account trusts by name, the mapping
 * whose UUID the CLI reads. These lists are written out, not computed, so a refactor of the
 * constructs (infra/constructs/replication-target.ts builds each part in a private method) that
 * renames or re-parents anything fails here. Change a list only for a deliberate, documented
 * replacement.
 */

/** [logical id, resource type] of every resource of a stack, sorted by id. */
function resources(stack: Stack): [string, string][] {
  const json = Template.fromStack(stack).toJSON() as { Resources: Record<string, { Type: string }> };
  return Object.entries(json.Resources).map(([id, r]): [string, string] => [id, r.Type]).sort(([a], [b]) => a.localeCompare(b));
}

const sorted = (list: [string, string][]): [string, string][] => [...list].sort(([a], [b]) => a.localeCompare(b));

describe('logical ids of replication.config.example.json stay stable', () => {
  const config = parseReplicationConfig(JSON.parse(readFileSync(resolve(__dirname, '..', '..', 'replication.config.example.json'), 'utf8')));
  const { replicationStack, targetAccessStacks } = fastApp(config);

  test('the replication stack', () => {
    expect(resources(replicationStack)).toEqual(sorted([
    ['ControlTable70B6FEE0', 'AWS::DynamoDB::GlobalTable'],
    ['InitialLoadAnalyticsExportBucketC21C7287', 'AWS::S3::Bucket'],
    ['InitialLoadAnalyticsExportBucketPolicy746D0C03', 'AWS::S3::BucketPolicy'],
    ['InitialLoadAnalyticsJob5FEC2FE0', 'AWS::Glue::Job'],
    ['InitialLoadAnalyticsKey7EC82A59', 'AWS::KMS::Key'],
    ['InitialLoadAnalyticsRoleAD5694E0', 'AWS::IAM::Role'],
    ['InitialLoadAnalyticsRoleDefaultPolicyF57FD9BE', 'AWS::IAM::Policy'],
    ['InitialLoadAnalyticsSecurityConfigurationE4222428', 'AWS::Glue::SecurityConfiguration'],
    ['InitialLoadDrExportBucket2ADB45EE', 'AWS::S3::Bucket'],
    ['InitialLoadDrExportBucketPolicyDCA6655D', 'AWS::S3::BucketPolicy'],
    ['InitialLoadDrJobAD91D253', 'AWS::Glue::Job'],
    ['InitialLoadDrKey7DAA4D38', 'AWS::KMS::Key'],
    ['InitialLoadDrRole7355DDAF', 'AWS::IAM::Role'],
    ['InitialLoadDrRoleDefaultPolicy03559C55', 'AWS::IAM::Policy'],
    ['InitialLoadDrSecurityConfigurationCA72E649', 'AWS::Glue::SecurityConfiguration'],
    ['ReplicationanalyticsAlarmsApplyErrorsE1D9D140', 'AWS::CloudWatch::Alarm'],
    ['ReplicationanalyticsAlarmsApplyThrottles5AB4EC83', 'AWS::CloudWatch::Alarm'],
    ['ReplicationanalyticsAlarmsDeadLetterQueue00461F97', 'AWS::CloudWatch::Alarm'],
    ['ReplicationanalyticsAlarmsEnrichErrors92174252', 'AWS::CloudWatch::Alarm'],
    ['ReplicationanalyticsAlarmsLagP998FD0DDE5', 'AWS::CloudWatch::Alarm'],
    ['ReplicationanalyticsAlarmsPipeDeadLetterQueueDB8D02DB', 'AWS::CloudWatch::Alarm'],
    ['ReplicationanalyticsAlarmsPipeEnrichmentFailed168EFFD1', 'AWS::CloudWatch::Alarm'],
    ['ReplicationanalyticsAlarmsPipeExecutionFailed8DC6FD4E', 'AWS::CloudWatch::Alarm'],
    ['ReplicationanalyticsAlarmsQueueAge3A0EF307', 'AWS::CloudWatch::Alarm'],
    ['ReplicationanalyticsApplyEventSource44BF9D09', 'AWS::Lambda::EventSourceMapping'],
    ['ReplicationanalyticsApplyFunction3B21AD87', 'AWS::Lambda::Function'],
    ['ReplicationanalyticsApplyLogGroup83280B3B', 'AWS::Logs::LogGroup'],
    ['ReplicationanalyticsApplyRoleCC4D1155', 'AWS::IAM::Role'],
    ['ReplicationanalyticsApplyRoleDefaultPolicy0C3BAC8A', 'AWS::IAM::Policy'],
    ['ReplicationanalyticsDeadLetterQueue49790E26', 'AWS::SQS::Queue'],
    ['ReplicationanalyticsDeadLetterQueuePolicy81D4CABB', 'AWS::SQS::QueuePolicy'],
    ['ReplicationanalyticsEnrichFunction85C52669', 'AWS::Lambda::Function'],
    ['ReplicationanalyticsEnrichLogGroup785E94C9', 'AWS::Logs::LogGroup'],
    ['ReplicationanalyticsEnrichRole3766E554', 'AWS::IAM::Role'],
    ['ReplicationanalyticsEnrichRoleDefaultPolicyFF16C050', 'AWS::IAM::Policy'],
    ['ReplicationanalyticsPipe11955C90', 'AWS::Pipes::Pipe'],
    ['ReplicationanalyticsPipeDeadLetterQueueB0E99234', 'AWS::SQS::Queue'],
    ['ReplicationanalyticsPipeDeadLetterQueuePolicy29097441', 'AWS::SQS::QueuePolicy'],
    ['ReplicationanalyticsPipeLogGroup908B6B01', 'AWS::Logs::LogGroup'],
    ['ReplicationanalyticsPipeRoleCBD93AA0', 'AWS::IAM::Role'],
    ['ReplicationanalyticsPipeRoleDefaultPolicyBCC4BBEB', 'AWS::IAM::Policy'],
    ['ReplicationanalyticsQueue3074AFD9', 'AWS::SQS::Queue'],
    ['ReplicationanalyticsQueuePolicy1BF75677', 'AWS::SQS::QueuePolicy'],
    ['ReplicationDashboardD242C91B', 'AWS::CloudWatch::Dashboard'],
    ['ReplicationdrAlarmsApplyErrorsFB708363', 'AWS::CloudWatch::Alarm'],
    ['ReplicationdrAlarmsApplyThrottles4A193887', 'AWS::CloudWatch::Alarm'],
    ['ReplicationdrAlarmsDeadLetterQueueC7D575E8', 'AWS::CloudWatch::Alarm'],
    ['ReplicationdrAlarmsEnrichErrors27AC459D', 'AWS::CloudWatch::Alarm'],
    ['ReplicationdrAlarmsLagP994687D75A', 'AWS::CloudWatch::Alarm'],
    ['ReplicationdrAlarmsPipeDeadLetterQueue6BFF1516', 'AWS::CloudWatch::Alarm'],
    ['ReplicationdrAlarmsPipeEnrichmentFailed8060DB75', 'AWS::CloudWatch::Alarm'],
    ['ReplicationdrAlarmsPipeExecutionFailed20F85999', 'AWS::CloudWatch::Alarm'],
    ['ReplicationdrAlarmsQueueAgeA5D091DE', 'AWS::CloudWatch::Alarm'],
    ['ReplicationdrApplyEventSource4B16D9DF', 'AWS::Lambda::EventSourceMapping'],
    ['ReplicationdrApplyFunction5E52A466', 'AWS::Lambda::Function'],
    ['ReplicationdrApplyLogGroupD2DE57C6', 'AWS::Logs::LogGroup'],
    ['ReplicationdrApplyRole57418222', 'AWS::IAM::Role'],
    ['ReplicationdrApplyRoleDefaultPolicyC155C9AF', 'AWS::IAM::Policy'],
    ['ReplicationdrDeadLetterQueueACC467E8', 'AWS::SQS::Queue'],
    ['ReplicationdrDeadLetterQueuePolicy0B2D69B9', 'AWS::SQS::QueuePolicy'],
    ['ReplicationdrEnrichFunction4B715962', 'AWS::Lambda::Function'],
    ['ReplicationdrEnrichLogGroupD0588AD3', 'AWS::Logs::LogGroup'],
    ['ReplicationdrEnrichRoleDefaultPolicy749DABE9', 'AWS::IAM::Policy'],
    ['ReplicationdrEnrichRoleEFE4E639', 'AWS::IAM::Role'],
    ['ReplicationdrPipe8088C6CB', 'AWS::Pipes::Pipe'],
    ['ReplicationdrPipeDeadLetterQueueF4577B55', 'AWS::SQS::Queue'],
    ['ReplicationdrPipeDeadLetterQueuePolicy657CF59D', 'AWS::SQS::QueuePolicy'],
    ['ReplicationdrPipeLogGroup602CF2F9', 'AWS::Logs::LogGroup'],
    ['ReplicationdrPipeRoleDefaultPolicyB83CE1AA', 'AWS::IAM::Policy'],
    ['ReplicationdrPipeRoleF1812A1B', 'AWS::IAM::Role'],
    ['ReplicationdrQueue313530A7', 'AWS::SQS::Queue'],
    ['ReplicationdrQueuePolicy7A3ADE40', 'AWS::SQS::QueuePolicy'],
    ['VerifyJobAnalyticsJob48055EF4', 'AWS::Glue::Job'],
    ['VerifyJobAnalyticsKeyFEFD9DCA', 'AWS::KMS::Key'],
    ['VerifyJobAnalyticsReportBucket5735B2A1', 'AWS::S3::Bucket'],
    ['VerifyJobAnalyticsReportBucketPolicy89B247E4', 'AWS::S3::BucketPolicy'],
    ['VerifyJobAnalyticsRoleDefaultPolicy7820B6CB', 'AWS::IAM::Policy'],
    ['VerifyJobAnalyticsRoleE01CCA8F', 'AWS::IAM::Role'],
    ['VerifyJobAnalyticsSecurityConfiguration7E0090AA', 'AWS::Glue::SecurityConfiguration'],
    ['VerifyJobDrJob22E67049', 'AWS::Glue::Job'],
    ['VerifyJobDrKey6E47D20C', 'AWS::KMS::Key'],
    ['VerifyJobDrReportBucket30613375', 'AWS::S3::Bucket'],
    ['VerifyJobDrReportBucketPolicy4F5A06B1', 'AWS::S3::BucketPolicy'],
    ['VerifyJobDrRoleDefaultPolicyFB0CCD05', 'AWS::IAM::Policy'],
    ['VerifyJobDrRoleF16499A6', 'AWS::IAM::Role'],
    ['VerifyJobDrSecurityConfiguration14ABBEC9', 'AWS::Glue::SecurityConfiguration'],
    ]));
  });

  test('the target-access stacks', () => {
    expect(resources(targetAccessStacks.get('dr')!)).toEqual(sorted([
    ['StateTable9728C7E5', 'AWS::DynamoDB::GlobalTable'],
    ['TargetRole7662179D', 'AWS::IAM::Role'],
    ['TargetRoleDefaultPolicyBE957C86', 'AWS::IAM::Policy'],
    ]));
    expect(resources(targetAccessStacks.get('analytics')!)).toEqual(sorted([
    ['StateTable9728C7E5', 'AWS::DynamoDB::GlobalTable'],
    ['TargetRole7662179D', 'AWS::IAM::Role'],
    ['TargetRoleDefaultPolicyBE957C86', 'AWS::IAM::Policy'],
    ]));
  });
});

test('attached targets (fan-out, one with its own queue key) keep their logical ids', () => {
  const { replicationStack } = fastApp(testConfig((input) => {
    const targets = input.targets as Record<string, unknown>[];
    targets.push({ name: 'third', account: '444444444444', region: 'eu-west-1', tableName: 'table-three', externalId: 'ext-third-123456', filter: { partitionKeyPrefixes: ['X#'] } });
    targets.push({
      name: 'fourth', account: '444444444444', region: 'eu-west-1', tableName: 'table-four', externalId: 'ext-fourth-123456',
      options: { kmsKeyArn: 'arn:aws:kms:eu-west-1:111111111111:key/11111111-2222-3333-4444-555555555555' },
    });
  }));
  const attached = resources(replicationStack).filter(([id]) => /^Replication(third|fourth)/.test(id));
  expect(attached).toEqual(sorted([
    ['ReplicationfourthAlarmsApplyErrors2C7F0060', 'AWS::CloudWatch::Alarm'],
    ['ReplicationfourthAlarmsApplyThrottles0AACF40A', 'AWS::CloudWatch::Alarm'],
    ['ReplicationfourthAlarmsDeadLetterQueue583636ED', 'AWS::CloudWatch::Alarm'],
    ['ReplicationfourthAlarmsEnrichErrorsDA107278', 'AWS::CloudWatch::Alarm'],
    ['ReplicationfourthAlarmsLagP992130D3D8', 'AWS::CloudWatch::Alarm'],
    ['ReplicationfourthAlarmsPipeDeadLetterQueueC5394638', 'AWS::CloudWatch::Alarm'],
    ['ReplicationfourthAlarmsPipeEnrichmentFailedFB3E7EF0', 'AWS::CloudWatch::Alarm'],
    ['ReplicationfourthAlarmsPipeExecutionFailedFB63CA37', 'AWS::CloudWatch::Alarm'],
    ['ReplicationfourthAlarmsQueueAge5CF67683', 'AWS::CloudWatch::Alarm'],
    ['ReplicationfourthApplyEventSourceDCB4C119', 'AWS::Lambda::EventSourceMapping'],
    ['ReplicationfourthApplyFunctionE0395C7A', 'AWS::Lambda::Function'],
    ['ReplicationfourthApplyLogGroup23AA4812', 'AWS::Logs::LogGroup'],
    ['ReplicationfourthApplyRoleC522F052', 'AWS::IAM::Role'],
    ['ReplicationfourthApplyRoleDefaultPolicyB80389CA', 'AWS::IAM::Policy'],
    ['ReplicationfourthDeadLetterQueue9D8DDF9E', 'AWS::SQS::Queue'],
    ['ReplicationfourthDeadLetterQueuePolicy8A76B7B5', 'AWS::SQS::QueuePolicy'],
    ['ReplicationfourthQueueB92CF87A', 'AWS::SQS::Queue'],
    ['ReplicationfourthQueuePolicyB3A11E23', 'AWS::SQS::QueuePolicy'],
    ['ReplicationthirdAlarmsApplyErrors2B15DD65', 'AWS::CloudWatch::Alarm'],
    ['ReplicationthirdAlarmsApplyThrottles8647015A', 'AWS::CloudWatch::Alarm'],
    ['ReplicationthirdAlarmsDeadLetterQueue8857EA17', 'AWS::CloudWatch::Alarm'],
    ['ReplicationthirdAlarmsEnrichErrors7A182854', 'AWS::CloudWatch::Alarm'],
    ['ReplicationthirdAlarmsLagP9912277EA2', 'AWS::CloudWatch::Alarm'],
    ['ReplicationthirdAlarmsPipeDeadLetterQueue27B0EC3C', 'AWS::CloudWatch::Alarm'],
    ['ReplicationthirdAlarmsPipeEnrichmentFailed290C2DEB', 'AWS::CloudWatch::Alarm'],
    ['ReplicationthirdAlarmsPipeExecutionFailedFA66721B', 'AWS::CloudWatch::Alarm'],
    ['ReplicationthirdAlarmsQueueAgeA90E77CA', 'AWS::CloudWatch::Alarm'],
    ['ReplicationthirdApplyEventSourceD108D1A0', 'AWS::Lambda::EventSourceMapping'],
    ['ReplicationthirdApplyFunctionE8C32764', 'AWS::Lambda::Function'],
    ['ReplicationthirdApplyLogGroup649992B8', 'AWS::Logs::LogGroup'],
    ['ReplicationthirdApplyRole607A3C4B', 'AWS::IAM::Role'],
    ['ReplicationthirdApplyRoleDefaultPolicy372DDC33', 'AWS::IAM::Policy'],
    ['ReplicationthirdDeadLetterQueueCD6C531A', 'AWS::SQS::Queue'],
    ['ReplicationthirdDeadLetterQueuePolicy80281A1A', 'AWS::SQS::QueuePolicy'],
    ['ReplicationthirdQueueE618945C', 'AWS::SQS::Queue'],
    ['ReplicationthirdQueuePolicy408E1566', 'AWS::SQS::QueuePolicy'],
  ]));
});
