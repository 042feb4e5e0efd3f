import { Match, type Template } from 'aws-cdk-lib/assertions';

/** What every Glue job of a target has (infra/constructs/glue-job-support.ts), as the initial-load and verify-job tests expect it. */

const partitionArn = (rest: string) => ({ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, rest]] });
const getAtt = (logicalId: string) => ({ 'Fn::GetAtt': [logicalId, 'Arn'] });

/** The last statements of a Glue job role's policy: its own key, Glue log groups, Glue metrics, the CDK asset bucket (script and modules). */
export function glueRuntimeStatements(keyLogicalId: string): unknown[] {
  return [
    { Effect: 'Allow', Action: ['kms:Decrypt', 'kms:Encrypt', 'kms:ReEncrypt*', 'kms:GenerateDataKey*'], Resource: getAtt(keyLogicalId) },
    {
      Effect: 'Allow',
      Action: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents', 'logs:AssociateKmsKey'],
      Resource: [partitionArn(':logs:eu-west-1:111111111111:log-group:/aws-glue/*'), partitionArn(':logs:eu-west-1:111111111111:log-group:/aws-glue/*:*')],
    },
    { Effect: 'Allow', Action: 'cloudwatch:PutMetricData', Resource: '*', Condition: { StringEquals: { 'cloudwatch:namespace': 'Glue' } } },
    {
      Effect: 'Allow',
      Action: ['s3:GetObject*', 's3:GetBucket*', 's3:List*'],
      Resource: [partitionArn(':s3:::cdk-hnb659fds-assets-111111111111-eu-west-1'), partitionArn(':s3:::cdk-hnb659fds-assets-111111111111-eu-west-1/*')],
    },
  ];
}

/** The job's security configuration `name`: SSE-S3, its rotating key for CloudWatch logs and bookmarks, which CloudWatch Logs may use for Glue log groups only. */
export function expectGlueJobSecurity(template: Template, keyLogicalId: string, name: string): void {
  template.hasResourceProperties('AWS::Glue::SecurityConfiguration', {
    Name: name,
    EncryptionConfiguration: {
      S3Encryptions: [{ S3EncryptionMode: 'SSE-S3' }],
      CloudWatchEncryption: { CloudWatchEncryptionMode: 'SSE-KMS', KmsKeyArn: getAtt(keyLogicalId) },
      JobBookmarksEncryption: { JobBookmarksEncryptionMode: 'CSE-KMS', KmsKeyArn: getAtt(keyLogicalId) },
    },
  });
  const keyProps = template.findResources('AWS::KMS::Key')[keyLogicalId].Properties;
  expect(keyProps.EnableKeyRotation).toBe(true);
  expect(keyProps.KeyPolicy.Statement).toContainEqual(expect.objectContaining({
    Principal: { Service: 'logs.eu-west-1.amazonaws.com' },
    Condition: { ArnLike: { 'kms:EncryptionContext:aws:logs:arn': partitionArn(':logs:eu-west-1:111111111111:log-group:/aws-glue/*') } },
  }));
}

/** A Glue job role: its fixed name, assumed by Glue only, no managed policies. */
export function expectGlueJobRole(template: Template, roleName: string): void {
  template.hasResourceProperties('AWS::IAM::Role', {
    RoleName: roleName,
    AssumeRolePolicyDocument: { Statement: [{ Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'glue.amazonaws.com' } }] },
    ManagedPolicyArns: Match.absent(),
  });
}

/** A job's transient bucket (glue-job-support.ts transientJobBucket): SSE-S3, private, owner-enforced, TLS only, objects expire after `days`. */
export function expectTransientJobBucket(template: Template, bucketLogicalId: string, days: number): void {
  expect(template.findResources('AWS::S3::Bucket')[bucketLogicalId].Properties).toEqual({
    BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
    PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
    OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
    LifecycleConfiguration: { Rules: [{ ExpirationInDays: days, AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 }, Status: 'Enabled' }] },
  });
  template.hasResourceProperties('AWS::S3::BucketPolicy', {
    Bucket: { Ref: bucketLogicalId },
    PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Action: 's3:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
  });
}
