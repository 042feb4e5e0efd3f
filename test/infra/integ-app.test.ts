import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, type CfnElement } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { decodeEnvelope } from '../../handlers/core/envelope';
import { groupIdFor } from '../../handlers/core/group-id';
import type { Command } from 'commander';
import { buildProgram } from '../../cli/index';
import { parseReplicationConfig } from '../../schemas/replication-config';
import { buildReplicationIntegApp, deployedConfigJson, expectedGroupId, INTEG, INTEG_APP_CONTEXT, integConfig, KEYS, OFFLINE_ENVIRONMENT, poisonEnvelope, replayArgs } from '../aws/replication-integ-app';

/**
 * The integ snapshot check of `npm test`: the opt-in real-AWS test app (test/aws/, README "Proving it
 * on AWS") synthesizes offline with no credentials, and its test case and assertion chain match the
 * committed snapshot — so the app can never silently stop synthesizing, or lose a phase.
 */
const outdir = mkdtempSync(join(tmpdir(), 'ddbrepl-integ-synth-'));
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

const app = new App({ outdir, context: { ...INTEG_APP_CONTEXT, 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false });
const { replicationStack } = buildReplicationIntegApp(app, OFFLINE_ENVIRONMENT);
const assembly = app.synth();
const integManifest = JSON.parse(readFileSync(join(assembly.directory, 'integ.json'), 'utf8')) as { testCases: Record<string, { stacks: string[]; assertionStack: string; hooks: { postDeploy: string[] } }> };
const assertions = assembly.getStackByName(INTEG.assertionStack).template as { Resources: Record<string, { Type: string; Properties: Record<string, unknown> }>; Outputs: Record<string, unknown> };

describe('the real-AWS integ app (offline synth)', () => {
  it('declares one test case: fixtures, target access and replication stacks, the assertion stack, the replay hook', () => {
    expect(integManifest.testCases).toMatchSnapshot();
    const [testCase] = Object.values(integManifest.testCases);
    for (const hook of testCase?.hooks.postDeploy ?? []) {
      expect(existsSync(join(__dirname, '..', 'aws', hook.split(' ').at(-1) ?? ''))).toBe(true);
    }
  });

  it('runs the assertion phases in order: put/update/delete, 300 KB RESYNC, MessageGroupId, poison to the DLQ', () => {
    const calls = Object.values(assertions.Resources)
      .filter((r) => r.Type.startsWith('Custom::DeployAssert@SdkCall'))
      .map((r) => `${r.Type.replace('Custom::DeployAssert@SdkCall', '')}${r.Properties.expected === undefined ? '' : ' (expect)'}`);
    expect(calls).toMatchSnapshot();
    expect(Object.keys(assertions.Outputs).filter((id) => id.startsWith('AssertionResults'))).toHaveLength(10);
  });

  it('expects the MessageGroupId the project computes, and the pipe sends $.groupId / $.eventId from the enrichment output', () => {
    const keySchema = integConfig(OFFLINE_ENVIRONMENT).source.keySchema;
    expect(expectedGroupId(KEYS.group)).toBe(groupIdFor({ pk: { S: KEYS.group }, sk: { S: 'a' } }, keySchema));
    const receive = Object.values(assertions.Resources).find((r) => r.Type.endsWith('SQSreceiveMessage'));
    expect(JSON.stringify(receive?.Properties.expected)).toContain(expectedGroupId(KEYS.group));
    Template.fromStack(replicationStack).hasResourceProperties('AWS::Pipes::Pipe', {
      TargetParameters: { SqsQueueParameters: { MessageGroupId: '$.groupId', MessageDeduplicationId: '$.eventId' } },
    });
  });

  it('sends a poison message replay can decode and apply cannot write (its image has the wrong partition key type)', () => {
    const envelope = decodeEnvelope(poisonEnvelope());
    expect(envelope.keys).toEqual({ pk: { S: KEYS.poison }, sk: { S: 'a' } });
    expect(envelope.groupId).toBe(expectedGroupId(KEYS.poison));
    expect(envelope.image?.pk).toEqual({ N: '1' });
  });

  it('runs a replay command the real CLI accepts (parsed with its commander program, not run)', () => {
    const sink = { write: () => true };
    const program = buildProgram({ io: { stdout: sink, stderr: sink }, exitCode: 0, debug: false });
    const parsed: Record<string, unknown>[] = [];
    for (const command of program.commands as Command[]) command.action(function record(this: Command) { parsed.push({ command: this.name(), ...this.opts() }); });
    program.parse(['node', 'ddb-replicate', ...replayArgs('/tmp/replication.config.json')], { from: 'node' });
    expect(parsed).toEqual([expect.objectContaining({ command: 'replay', target: INTEG.targetName, config: '/tmp/replication.config.json', json: true })]);
  });

  it('writes the replay phase a config file that validates like an operator\'s', () => {
    const streamArn = `arn:aws:dynamodb:eu-west-1:210987654321:table/${INTEG.sourceTable}/stream/2026-12-01T00:00:00.000`;
    const config = parseReplicationConfig(JSON.parse(deployedConfigJson({ account: '210987654321', region: 'eu-west-1' }, streamArn)));
    expect(config.source).toMatchObject({ account: '210987654321', region: 'eu-west-1', tableStreamArn: streamArn });
    expect(config.targets[0]).toMatchObject({ name: INTEG.targetName, tableName: INTEG.targetTable, options: { maxReceiveCount: 3, applyTimeoutSeconds: 10 } });
  });

  it('observes and poisons the main queue, and waits on the DLQ (stack exports of the target under test)', () => {
    const [target] = replicationStack.replication.targets;
    const logicalId = (element: unknown) => replicationStack.getLogicalId(element as CfnElement);
    const queueUrlOf = (type: string) => JSON.stringify((Object.values(assertions.Resources).find((r) => r.Type.endsWith(type))?.Properties.parameters as Record<string, unknown>).QueueUrl);
    const queue = logicalId(target?.queue.node.defaultChild);
    const dlq = logicalId(target?.deadLetterQueue.node.defaultChild);
    expect(queueUrlOf('SQSreceiveMessage')).toContain(`ExportsOutputRef${queue}`);
    expect(queueUrlOf('SQSsendMessage')).toContain(`ExportsOutputRef${queue}`);
    expect(queueUrlOf('SQSgetQueueAttributes')).toContain(`ExportsOutputRef${dlq}`);
  });
});
