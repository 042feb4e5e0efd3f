import { setFlagsFromString } from 'node:v8';

/**
 * How far V8 may let the old generation grow past what survived the last full collection before it
 * collects again, in percent: V8's `--heap-growing-percent` (growing factor 1 + percent / 100).
 */
const HEAP_GROWING_PERCENT = 50;

/**
 * For a process that streams data through a small live heap: verify parses, digests and drops Scan
 * pages with ~20 MB live. Left to itself on a machine with memory to spare, V8 grows the old
 * generation up to 4× what survived, and the objects promoted because their request was in flight
 * when a scavenge ran (pages, sockets, the SDK's per-request objects) piled up to ~60 MB before a full
 * collection. At 1.5×, verify's peak RSS at 200,000 items went from 168–200 MB to 141–148 MB at the
 * same throughput (docs/performance.md, "Holding the old generation down"). Node documents that a
 * flag set at run time may do nothing (https://nodejs.org/api/v8.html#v8setflagsfromstringflags); V8 reads this one
 * at every full collection (measured). Should a later Node ignore it, nothing breaks and the bench's
 * memory row shows it.
 */
export function limitOldGenerationGrowth(): void {
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
}
