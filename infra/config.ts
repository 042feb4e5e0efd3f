import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { InvalidReplicationConfigError, parseReplicationConfigs, type ReplicationConfig } from '../schemas/replication-config';

/**
 * Loads the app config at synth time. The path comes from the CDK context `replicationConfig`
 * (cdk.json sets it; `cdk synth -c replicationConfig=other.json` overrides it). Defaults live in the
 * zod schema, once: this module only finds, reads and validates the file.
 */
export const DEFAULT_CONFIG_PATH = 'replication.config.json' as const;
/** Used when the default file does not exist, so `cdk synth` works on a fresh checkout. */
export const EXAMPLE_CONFIG_PATH = 'replication.config.example.json' as const;
/** The CDK context key that names the config file. */
export const CONFIG_CONTEXT_KEY = 'replicationConfig' as const;

export interface LoadReplicationConfigOptions {
  /** Directory relative paths are resolved against. @default process.cwd() */
  readonly cwd?: string;
  /** Where the one-line "using the example" notice goes. @default a line on stderr */
  readonly notice?: (line: string) => void;
}

/**
 * Reads and validates a config of exactly one replication (the single shape, or a list of one).
 * @throws InvalidReplicationConfigError also when the file holds several replications
 */
export function loadReplicationConfig(path: string = DEFAULT_CONFIG_PATH, options: LoadReplicationConfigOptions = {}): ReplicationConfig {
  const configs = loadReplicationConfigs(path, options);
  if (configs.length !== 1) {
    throw new InvalidReplicationConfigError(`replication config ${path} holds ${configs.length} replications (${configs.map((c) => c.replicationName).join(', ')}); name one`);
  }
  return configs[0];
}

/**
 * Reads and validates the config: one replication or `{ "replications": [ … ] }`, always returned
 * as a list (schemas/replication-config.ts, `parseReplicationConfigs`). Only the default path falls back to the example file: a path the
 * operator named explicitly must exist, or synth fails (silently deploying the example would be worse).
 * @throws InvalidReplicationConfigError listing every problem as `path: reason`
 */
export function loadReplicationConfigs(path: string = DEFAULT_CONFIG_PATH, options: LoadReplicationConfigOptions = {}): ReplicationConfig[] {
  const cwd = options.cwd ?? process.cwd();
  const notice = options.notice ?? ((line: string) => process.stderr.write(`${line}\n`));
  let file = isAbsolute(path) ? path : resolve(cwd, path);
  if (!existsSync(file)) {
    if (path !== DEFAULT_CONFIG_PATH) {
      throw new InvalidReplicationConfigError(`replication config ${file} does not exist (set by the CDK context "${CONFIG_CONTEXT_KEY}")`);
    }
    const example = resolve(cwd, EXAMPLE_CONFIG_PATH);
    notice(`${DEFAULT_CONFIG_PATH} not found; synthesizing ${EXAMPLE_CONFIG_PATH} (copy it to ${DEFAULT_CONFIG_PATH} and edit it for a real deployment)`);
    file = example;
  }
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (cause) {
    throw new InvalidReplicationConfigError(`replication config ${file} is not readable JSON: ${(cause as Error).message}`, { cause });
  }
  return parseReplicationConfigs(raw, file);
}
