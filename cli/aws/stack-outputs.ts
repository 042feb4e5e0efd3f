import { DescribeStacksCommand, type CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { replicationStackName, targetOutputId, type TargetOutputName } from '../../infra/stacks/stack-output-ids';
import { CliError, EXIT } from '../errors';
import { awsCallError } from './errors';

/**
 * A target's resources, read from the CloudFormation outputs of the replication stack (output ids
 * from `targetOutputId()`, the contract between the stack and the CLI).
 */
export interface TargetStackOutputs {
  readonly stackName: string;
  readonly targetName: string;
  /** The output's value; a CliError naming the output when the stack lacks it (deployed by an older version). */
  require(output: TargetOutputName): string;
  optional(output: TargetOutputName): string | undefined;
}

export interface ResolveTargetOutputsOptions {
  readonly cloudFormation: CloudFormationClient;
  /** For messages ("not found in eu-west-1"). */
  readonly region: string;
  readonly stackName: string;
  readonly targetName: string;
  /** Target names from the config, so "not configured" can list them by name. @default names guessed from the outputs */
  readonly configuredTargets?: readonly string[];
}

/** The stack `buildApp` deploys for this replication (infra/app.ts). */
export function defaultStackName(replicationName: string): string {
  return replicationStackName(replicationName);
}

export async function resolveTargetOutputs(opts: ResolveTargetOutputsOptions): Promise<TargetStackOutputs> {
  const { stackName, targetName, region } = opts;
  let outputs: Map<string, string>;
  try {
    const out = await opts.cloudFormation.send(new DescribeStacksCommand({ StackName: stackName }));
    const stack = out.Stacks?.[0];
    if (stack === undefined) throw stackNotFound(stackName, region);
    outputs = new Map((stack.Outputs ?? []).flatMap((o) => (o.OutputKey !== undefined && o.OutputValue !== undefined ? [[o.OutputKey, o.OutputValue] as const] : [])));
  } catch (error) {
    if (error instanceof CliError) throw error;
    // CloudFormation answers a missing stack with a ValidationError "Stack with id X does not exist".
    if ((error as { name?: string }).name === 'ValidationError' && /does not exist/.test((error as Error).message)) {
      throw stackNotFound(stackName, region, error);
    }
    throw awsCallError(error, 'cloudformation:DescribeStacks', `stack ${stackName} in ${region}`);
  }

  if (!outputs.has(targetOutputId(targetName, 'QueueUrl'))) {
    const configured = deployedTargets(outputs, opts.configuredTargets);
    throw new CliError(
      `target "${targetName}" is not configured in stack ${stackName}; ${configured.length === 0 ? 'it has no targets' : `configured targets: ${configured.join(', ')}`}`,
      EXIT.badInput,
    );
  }
  const optional = (output: TargetOutputName): string | undefined => outputs.get(targetOutputId(targetName, output));
  return {
    stackName,
    targetName,
    optional,
    require: (output) => {
      const value = optional(output);
      if (value === undefined) {
        throw new CliError(`stack ${stackName} has no output ${targetOutputId(targetName, output)}: it was deployed by an older version of this project; deploy it again`, EXIT.failure);
      }
      return value;
    },
  };
}

function stackNotFound(stackName: string, region: string, cause?: unknown): CliError {
  return new CliError(`stack ${stackName} not found in ${region}: deploy it first (npx cdk deploy ${stackName}), or name the right one with --stack/--region`, EXIT.failure, { cause });
}

/** Targets with outputs in the stack: config names where they match, else the PascalCase part of the output id. */
function deployedTargets(outputs: ReadonlyMap<string, string>, configured: readonly string[] = []): string[] {
  const names: string[] = [];
  for (const key of outputs.keys()) {
    const match = /^Target(.+)QueueUrl$/.exec(key);
    if (match === null) continue;
    names.push(configured.find((name) => targetOutputId(name, 'QueueUrl') === key) ?? match[1]);
  }
  return names;
}
