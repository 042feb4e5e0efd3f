#!/usr/bin/env node
// The CLI is TypeScript run through tsx, so `npx ddb-replicate` works straight after `npm ci`, no build step.
// Only tsx's `require` (CommonJS) hook: the code base is CommonJS and loads its own modules with
// require. tsx's `import()` (ESM) hook would run in a loader thread of its own, about 25 MB more in
// every command (measured: docs/decisions.md, "Module seams"); eslint refuses import() of our modules.
require('tsx/cjs');
// Interrupted (SIGINT) or terminated (SIGTERM, parent gone).
const STOPPED = new Set([130, 143]);
Promise.resolve()
  .then(() => require('../cli/index.ts').main(process.argv))
  .then(
    (code) => {
      process.exitCode = code;
      // Interrupted: work abandoned in flight must not keep the process alive (its emulators are gone).
      if (STOPPED.has(code)) process.exit(code);
    },
    (err) => { console.error(err instanceof Error ? err.message : String(err)); process.exitCode = 1; },
  );
