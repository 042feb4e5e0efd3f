import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { DescribeTableCommand, DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { replicationStackName, targetOutputId } from '../../infra/stacks/stack-output-ids';
import { deployedConfigJson, INTEG, itemKey, KEYS, replayArgs } from './replication-integ-app';

/**
 * Phase 2 of the real-AWS test, after the assertion stack has run (integ.json names it as the
 * postDeploy hook; `npm run test:aws` runs it the same way). The DLQ holds the poison message and the
 * target has lost the item: the real CLI, `ddb-replicate replay`, must bring the target back.
 * Exits non-zero, with the reason, when it does not within the deadline.
 */
const DEADLINE_MS = 10 * 60_000;
const POLL_MS = 10_000;

async function main(): Promise<void> {
  const region = process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? process.env.CDK_DEFAULT_REGION;
  if (region === undefined) throw new Error('set AWS_REGION to the Region the test deployed to');
  const { Account: account } = await new STSClient({ region }).send(new GetCallerIdentityCommand({}));
  if (account === undefined) throw new Error('STS GetCallerIdentity returned no account');
  const dynamodb = new DynamoDBClient({ region });
  const sqs = new SQSClient({ region });

  const { Table: table } = await dynamodb.send(new DescribeTableCommand({ TableName: INTEG.sourceTable }));
  if (table?.LatestStreamArn === undefined) throw new Error(`table ${INTEG.sourceTable} has no stream: was the test deployed in ${region}?`);
  const configFile = join(mkdtempSync(join(tmpdir(), 'ddbrepl-integ-')), 'replication.config.json');
  writeFileSync(configFile, deployedConfigJson({ account, region }, table.LatestStreamArn));

  const cli = join(__dirname, '..', '..', 'bin', 'ddb-replicate.js');
  const replay = execFileSync(process.execPath, [cli, ...replayArgs(configFile)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  process.stdout.write(`ddb-replicate replay: ${replay}`);
  const result = JSON.parse(replay) as { replayed?: number };
  if (result.replayed !== 1) throw new Error(`replay sent ${String(result.replayed)} RESYNCs; expected 1 (the poison message)`);

  const dlqUrl = await stackOutput(region, targetOutputId(INTEG.targetName, 'DeadLetterQueueUrl'));
  const deadline = Date.now() + DEADLINE_MS;
  for (;;) {
    const read = (TableName: string) => dynamodb.send(new GetItemCommand({ TableName, Key: itemKey(KEYS.poison), ConsistentRead: true }));
    const [source, target] = await Promise.all([read(INTEG.sourceTable), read(INTEG.targetTable)]);
    const dlq = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }));
    const dlqDepth = Number(dlq.Attributes?.ApproximateNumberOfMessages ?? 'NaN') + Number(dlq.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 'NaN');
    const back = source.Item?.v?.S === 'source' && target.Item?.v?.S === source.Item.v.S;
    if (back && dlqDepth === 0) {
      process.stdout.write('replay phase: target equals source for the dead-lettered key, DLQ empty ✓\n');
      return;
    }
    if (Date.now() > deadline) throw new Error(`after replay: target item ${target.Item === undefined ? 'missing' : 'differs from the source'}, DLQ depth ${dlqDepth}`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

async function stackOutput(region: string, key: string): Promise<string> {
  const { Stacks } = await new CloudFormationClient({ region }).send(new DescribeStacksCommand({ StackName: replicationStackName(INTEG.replicationName) }));
  const value = Stacks?.[0]?.Outputs?.find((o) => o.OutputKey === key)?.OutputValue;
  if (value === undefined) throw new Error(`stack ${replicationStackName(INTEG.replicationName)} has no output ${key}`);
  return value;
}

main().catch((error: unknown) => {
  process.stderr.write(`replay phase failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
