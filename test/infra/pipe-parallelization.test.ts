import { Template } from 'aws-cdk-lib/assertions';
import { fastApp, testConfig } from './support';

/** pipeParallelizationFactor reaches the pipe's DynamoDB stream source (ParallelizationFactor, 1-10). */
describe('pipe ParallelizationFactor', () => {
  const config = testConfig((input) => {
    const targets = input.targets as { options?: Record<string, unknown> }[];
    targets[1].options = { ...targets[1].options, pipeParallelizationFactor: 7 };
  });
  const template = Template.fromStack(fastApp(config).replicationStack);
  const factorOf = (name: string): unknown => Object.values(template.findResources('AWS::Pipes::Pipe'))
    .find((r) => (r.Properties as { Name: string }).Name === name)?.Properties.SourceParameters.DynamoDBStreamParameters.ParallelizationFactor;

  test('defaults to 3 and takes the configured value', () => {
    expect(factorOf('ddbrepl-orders-dr')).toBe(3);
    expect(factorOf('ddbrepl-orders-eu-analytics')).toBe(7);
  });

  test.each([0, 11, 2.5])('rejects %p at synth with the field path', (value) => {
    expect(() => testConfig((input) => {
      (input.targets as { options?: Record<string, unknown> }[])[0].options = { pipeParallelizationFactor: value };
    })).toThrow(/pipeParallelizationFactor/);
  });
});
