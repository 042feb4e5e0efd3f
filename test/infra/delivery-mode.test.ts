import { Template } from 'aws-cdk-lib/assertions';
import { fastApp, logicalIdOf, testConfig } from './support';
import { getAtt, ref, statementsOfRole } from './observability-support';

/**
 * options.delivery (issue 12 §5): with 'enrichment-send' the owner's enrichment sends its envelopes to
 * the owner's queue itself — it gets DELIVERY, OWNER_QUEUE_URL and sqs:SendMessage on exactly that queue.
 */
type Json = Record<string, unknown>;
const idOf = (t: Template, type: string, id: string) => logicalIdOf(t, type, `Replicationdr${id}`);

test('enrichment-send: the enrich role may send to the owner\'s queue only; pipe-target (default) gives it no SQS permission', () => {
  const template = Template.fromStack(fastApp(testConfig((input) => {
    (input.targets as Json[])[0].options = { delivery: 'enrichment-send' };
  })).replicationStack);
  const queue = idOf(template, 'AWS::SQS::Queue', 'Queue');
  const sqsStatements = (t: Template) => (statementsOfRole(t, idOf(t, 'AWS::IAM::Role', 'EnrichRole')) as { Action: unknown }[])
    .filter((s) => JSON.stringify(s.Action).includes('sqs:'));
  expect(sqsStatements(template)).toEqual([{ Effect: 'Allow', Action: 'sqs:SendMessage', Resource: getAtt(queue) }]);
  const enrich = template.findResources('AWS::Lambda::Function')[idOf(template, 'AWS::Lambda::Function', 'EnrichFunction')] as { Properties: { Environment: { Variables: Json } } };
  expect(enrich.Properties.Environment.Variables).toMatchObject({ DELIVERY: 'enrichment-send', OWNER_QUEUE_URL: ref(queue) });

  const plain = Template.fromStack(fastApp(testConfig()).replicationStack);
  expect(sqsStatements(plain)).toEqual([]);
  const plainEnrich = plain.findResources('AWS::Lambda::Function')[idOf(plain, 'AWS::Lambda::Function', 'EnrichFunction')] as { Properties: { Environment: { Variables: Json } } };
  expect(plainEnrich.Properties.Environment.Variables).not.toHaveProperty('DELIVERY');
});
