/**
 * One registry of synchronous last-resort cleanups (kill a child process group, close a server) run
 * when the process exits or receives SIGINT/SIGTERM/SIGHUP. Each runner also stops gracefully through
 * its own `stop()`; this only guarantees that an abrupt end leaves no emulator behind.
 *
 * A signal listener replaces Node's default "terminate" action, so after cleaning up we re-raise the
 * signal when nobody else (e.g. the CLI) listens for it — the process still dies as the user asked.
 */
type Cleanup = () => void;

const cleanups = new Set<Cleanup>();
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
let installed = false;

function runAll(): void {
  for (const cleanup of [...cleanups]) {
    cleanups.delete(cleanup);
    try {
      cleanup();
    } catch (error) {
      // Exit path: nothing left to propagate to; say what failed instead of hiding it.
      process.stderr.write(`local cleanup failed: ${String(error)}\n`);
    }
  }
}

function onSignal(signal: NodeJS.Signals): void {
  runAll();
  uninstall();
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', runAll);
  for (const signal of SIGNALS) process.on(signal, onSignal);
}

function uninstall(): void {
  if (!installed) return;
  installed = false;
  process.off('exit', runAll);
  for (const signal of SIGNALS) process.off(signal, onSignal);
}

/**
 * Calls `onOrphaned` once when the process that started this one has gone — `npm run demo` killed
 * with SIGTERM exits at once and leaves us running — seen as a change of the parent pid (the orphan
 * is re-parented to init or a subreaper). Polled, since no signal says so. Returns the unwatch.
 */
export function watchParent(onOrphaned: () => void, everyMs = 500): () => void {
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(timer);
    onOrphaned();
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}

/** Registers a synchronous cleanup; returns the function that unregisters it (call it from a graceful stop). */
export function registerCleanup(cleanup: Cleanup): () => void {
  cleanups.add(cleanup);
  install();
  return () => {
    cleanups.delete(cleanup);
    if (cleanups.size === 0) uninstall();
  };
}
