/**
 * The names the CLI reads from a deployed replication stack: the stack's name and its per-target
 * output ids. Kept apart from replication-stack.ts so that `ddb-replicate` can read a stack's outputs
 * without loading aws-cdk-lib (tens of MB and ~0.5 s in every command).
 *
 * Output ids are `Target<PascalName><Suffix>`, e.g. for target `dr`: `TargetDrQueueUrl`,
 * `TargetDrEventSourceMappingUuid`. They are a contract with `ddb-replicate` — never rename one;
 * add new ones instead. replication-stack.ts defines one value for each name below (its maps are
 * typed by these unions, so a name cannot be added on one side only).
 */
export type TargetPipelineOutputName =
  | 'QueueUrl' | 'QueueArn' | 'DeadLetterQueueUrl' | 'DeadLetterQueueArn' | 'PipeDeadLetterQueueUrl'
  | 'PipeDeadLetterQueueArn' | 'ApplyFunctionName' | 'EventSourceMappingUuid' | 'PipeName';
/** Outputs of the target's initial-load job. */
export type InitialLoadOutputName = 'InitialLoadJobName' | 'InitialLoadExportBucketName';
/** Outputs of the target's verify job. */
export type VerifyJobOutputName = 'VerifyJobName' | 'VerifyReportBucketName';
export type TargetOutputName = TargetPipelineOutputName | InitialLoadOutputName | VerifyJobOutputName;

/** The output id (= CloudFormation output key) of one value of one target. */
export function targetOutputId(targetName: string, output: TargetOutputName): string {
  return `Target${pascalCase(targetName)}${output}`;
}

/** The name `buildApp` gives the source-account stack. */
export function replicationStackName(replicationName: string): string {
  return `Ddbrepl-${replicationName}`;
}

/** `orders-dr` → `OrdersDr`: target names in construct and output ids. */
export function pascalCase(name: string): string {
  return name
    .split('-')
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');
}
