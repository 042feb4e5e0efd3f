#!/usr/bin/env node
// The CLI is TypeScript run through tsx, so `npx ddb-replicate` works straight after `npm ci`, no build step.
// Both tsx hooks, as the `tsx` command registers them: `require` (CJS) and `import()` (ESM loader). The
// ESM API is imported, not required: its CJS build resolves its loader against the wrong directory.
require('tsx/cjs');
// Interrupted (SIGINT) or terminated (SIGTERM, parent gone).
const STOPPED = new Set([130, 143]);
import('tsx/esm/api')
  .then((tsx) => {
    tsx.register();
    return require('../cli/index.ts').main(process.argv);
  })
  .then(
    (code) => {
      process.exitCode = code;
      // Interrupted: work abandoned in flight must not keep the process alive (its emulators are gone).
      if (STOPPED.has(code)) process.exit(code);
    },
    (err) => { console.error(err instanceof Error ? err.message : String(err)); process.exitCode = 1; },
  );
