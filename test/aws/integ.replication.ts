import { App } from 'aws-cdk-lib';
import { buildReplicationIntegApp, INTEG_APP_CONTEXT, OFFLINE_ENVIRONMENT } from './replication-integ-app';

// The integ-runner entry (`npm run test:aws`): the CDK CLI sets the caller's account and Region when it
// deploys. test/infra/integ-app.test.ts synthesizes the same app offline with OFFLINE_ENVIRONMENT.
const app = new App({ context: INTEG_APP_CONTEXT });
buildReplicationIntegApp(app, {
  account: process.env.CDK_DEFAULT_ACCOUNT ?? OFFLINE_ENVIRONMENT.account,
  region: process.env.CDK_DEFAULT_REGION ?? OFFLINE_ENVIRONMENT.region,
});
app.synth();
