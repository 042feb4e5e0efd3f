import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { replicationStackName } from '../../infra/stacks/stack-output-ids';
import { targetAccessStackName } from '../../infra/stacks/target-access-stack';
import { assertionFailures } from './assertion-results';
import { INTEG } from './replication-integ-app';

/**
 * `npm run test:aws`: deploys test/aws/integ.replication.ts with the project's own CDK CLI and the
 * caller's credentials, reads the assertion results, runs the replay phase (the integ manifest's
 * postDeploy hook), and destroys every stack whatever happened. It does the integ-runner workflow
 * itself because the newest @aws-cdk/integ-runner on the registry (2.197.10) reads cloud assembly
 * schema ≤ 53, and aws-cdk-lib 2.276.0 writes 55 (README "Proving it on AWS").
 */
const ROOT = join(__dirname, '..', '..');
const APP = 'npx tsx test/aws/integ.replication.ts';
const TESTED_STACKS = [INTEG.fixturesStack, targetAccessStackName(INTEG.replicationName, INTEG.targetName), replicationStackName(INTEG.replicationName)];

function run(command: string, args: readonly string[], cwd = ROOT): boolean {
  process.stderr.write(`\n$ ${command} ${args.join(' ')}\n`);
  return spawnSync(command, args, { cwd, stdio: 'inherit', env: process.env }).status === 0;
}

function cdk(...args: string[]): boolean {
  return run('npx', ['cdk', '--app', APP, '--output', join(outDir, 'cdk.out'), '--require-approval', 'never', ...args]);
}

if (process.env.AWS_REGION === undefined) {
  process.stderr.write('set AWS_REGION to the Region of your sandbox account (CDK bootstrapped there), e.g. AWS_REGION=eu-west-1 npm run test:aws\n');
  process.exit(2);
}
// Ctrl-C stops the running step (the child gets it too), then the stacks are still destroyed; a second Ctrl-C leaves them.
let interrupted = false;
process.on('SIGINT', () => {
  if (interrupted) process.exit(130);
  interrupted = true;
  process.stderr.write('\ninterrupted: destroying the stacks (Ctrl-C again to leave them deployed)\n');
});

const outDir = mkdtempSync(join(tmpdir(), 'ddbrepl-integ-'));
const started = Date.now();
const failures: string[] = [];
try {
  if (!cdk('deploy', ...TESTED_STACKS)) {
    failures.push('deploying the stacks under test failed');
  } else if (!interrupted) {
    // As integ-runner does: no rollback, so every assertion runs and reports instead of the first failure undoing the rest.
    const outputs = join(outDir, 'assertion-results.json');
    if (!cdk('deploy', INTEG.assertionStack, '--no-rollback', '--outputs-file', outputs)) failures.push('the assertion stack failed (an assertion timed out: see its custom resource events)');
    failures.push(...assertionFailures(outputs, INTEG.assertionStack));
    if (failures.length === 0 && !interrupted && !run('npx', ['tsx', 'replay-phase.ts'], join(ROOT, 'test', 'aws'))) failures.push('replay phase failed');
  }
  if (interrupted) failures.push('interrupted');
} finally {
  if (!cdk('destroy', '--all', '--force')) failures.push(`destroy failed: delete the stacks ${[...TESTED_STACKS, INTEG.assertionStack].join(', ')} by hand`);
}
const minutes = ((Date.now() - started) / 60_000).toFixed(1);
process.stderr.write(failures.length === 0 ? `\nreal-AWS test passed in ${minutes} min ✓\n` : `\nreal-AWS test FAILED in ${minutes} min:\n  ${failures.join('\n  ')}\n`);
process.exitCode = failures.length === 0 ? 0 : 1;
