import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { startDynamoDbLocal, type DynamoDbLocal } from '../../local/dynamodb-local';

/**
 * Runs the Glue scripts' Python tests (test/glue: initial_load.py, verify_job.py and their shared
 * modules) against a real DynamoDB Local, so `npm test` covers infra/glue in CI. Debian's python3 + python3-boto3 is the
 * runtime (no pip packages); a missing boto3 fails with the install hint rather than skipping.
 */
const PYTHON = '/usr/bin/python3';
const REPO_ROOT = join(__dirname, '..', '..');
/** Fewer means discovery silently lost tests (Python 3.11 exits 0 on "Ran 0 tests"). */
const MIN_PYTHON_TESTS = 60;

interface RunResult {
  code: number | null;
  output: string;
}

function runPython(args: string[], env: NodeJS.ProcessEnv): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, args, { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, output }));
  });
}

/** The environment for the Python tests: ours only, so a developer's AWS profile or endpoints cannot leak in. */
function pythonEnv(endpoint: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith('AWS_')) env[name] = value;
  }
  return {
    ...env,
    DYNAMODB_ENDPOINT: endpoint,
    // DynamoDB Local accepts any credentials, but only letters and digits in the access key id.
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    AWS_REGION: 'us-east-1',
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_EC2_METADATA_DISABLED: 'true',
    PYTHONDONTWRITEBYTECODE: '1',
    PYTHONUNBUFFERED: '1',
  };
}

describe('Glue scripts (Python, against DynamoDB Local)', () => {
  let ddb: DynamoDbLocal | undefined;

  beforeAll(async () => {
    const probe = spawnSync(PYTHON, ['-c', 'import boto3'], { encoding: 'utf8' });
    if (probe.error !== undefined || probe.status !== 0) {
      throw new Error(
        `${PYTHON} with boto3 is needed to test the Glue scripts in infra/glue: ` +
          'install it with `apt-get install -y python3-boto3` (Debian/Ubuntu; CI does this in .ci/run). ' +
          `Probe said: ${probe.error?.message ?? probe.stderr.trim()}`,
      );
    }
    ddb = await startDynamoDbLocal();
  }, 60_000);

  afterAll(async () => {
    await ddb?.stop();
  });

  it('passes every Python test', async () => {
    if (ddb === undefined) throw new Error('DynamoDB Local did not start');
    const { code, output } = await runPython(['-m', 'unittest', 'discover', '-s', 'test/glue', '-v'], pythonEnv(ddb.endpoint));
    // The whole Python output is the failure message, so a red CI run says which test broke and why.
    if (code !== 0) throw new Error(`python unittest exited ${String(code)}:\n${output}`);
    const ran = Number(/^Ran (\d+) tests? in/m.exec(output)?.[1] ?? '0');
    expect({ ran: ran >= MIN_PYTHON_TESTS, ok: /^OK\b/m.test(output) }).toEqual({ ran: true, ok: true });
  }, 600_000);
});
