/**
 * What the bootstrap orchestrator needs from the world, and nothing more. Implemented over AWS
 * (aws-ports.ts), over a local session (cli/local/bootstrap-ports.ts), and by fakes in the unit tests.
 */

/** EventBridge Pipes `CurrentState` (RUNNING, STOPPED, STARTING, STOPPING, CREATE_FAILED, …). */
export type PipeState = string;
/** Lambda event source mapping `State`: Enabled, Disabled, Enabling, Disabling, Creating, Updating, Deleting. */
export type MappingState = string;

export type CopyState = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'STOPPED';

export interface CopyHandle {
  /** Glue JobRunId, or a local id for the direct engine. */
  readonly id: string;
  /** What runs the copy, for messages: "Glue job ddbrepl-orders-dr-initial-load (engine scan)". */
  readonly description: string;
}

export interface CopyProgress {
  readonly state: CopyState;
  /** Items written so far, when the engine can tell (the direct engine can; a Glue run cannot). */
  readonly itemsCopied?: number;
  readonly elapsedMs: number;
  /** Why it failed or stopped, in the engine's words. */
  readonly message?: string;
}

/** Names of the resources involved, for messages (e.g. `--uuid` for a manual re-enable). */
export interface BootstrapResourceNames {
  readonly target: string;
  readonly pipe: string;
  /** The event source mapping's UUID. */
  readonly mapping: string;
  readonly queue: string;
  readonly sourceTable: string;
  readonly copy: string;
}

export interface BootstrapPorts {
  readonly names: BootstrapResourceNames;
  describePipe(): Promise<PipeState>;
  getMappingState(): Promise<MappingState>;
  /** Asks for the mapping to be disabled; the orchestrator waits for `Disabled`. */
  disableMapping(): Promise<void>;
  /** Asks for the mapping to be enabled; the orchestrator waits for `Enabled`. */
  enableMapping(): Promise<void>;
  startCopy(): Promise<CopyHandle>;
  copyProgress(handle: CopyHandle): Promise<CopyProgress>;
  /** Asks the copy to stop; the orchestrator waits until copyProgress says it is no longer RUNNING. */
  cancelCopy(handle: CopyHandle): Promise<void>;
  /** Messages in the target's queue not yet applied (visible + in flight + delayed). */
  queueDepth(): Promise<number>;
  /** The source table's approximate ItemCount (DynamoDB refreshes it about every six hours), if known. */
  tableItemCount(): Promise<number | undefined>;
}
