import { main, type CliIo } from '../../cli/index';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `ddb-replicate <args>` in-process through main(), capturing what it writes. */
export async function runCli(...args: string[]): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = { stdout: { write: (text: string) => (stdout += text) }, stderr: { write: (text: string) => (stderr += text) } };
  const code = await main(['node', 'ddb-replicate', ...args], io);
  return { code, stdout, stderr };
}
