#!/usr/bin/env node
// The CLI is TypeScript run through tsx, so `npx ddb-replicate` works straight after `npm ci`, no build step.
require('tsx/cjs');
require('../cli/index.ts').main(process.argv).then(
  (code) => { process.exitCode = code; },
  (err) => { console.error(err instanceof Error ? err.message : String(err)); process.exitCode = 1; },
);
