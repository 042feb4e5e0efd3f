import { readdirSync, readFileSync } from 'node:fs';

/** CPU accounting from /proc (Linux): where the machine's cores went during a measurement. */

/** CPU seconds (user + system) a process has used so far, from /proc (Linux); null where unavailable. */
export function processCpuSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 14 and 15 of proc(5) (utime, stime) are at 11 and 12 once pid and comm are cut off.
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
  } catch (error) {
    if (isGone(error)) return null;
    throw error;
  }
}

/** No /proc (not Linux) or the process has exited: nothing to measure. */
function isGone(error: unknown): boolean {
  return (error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'ESRCH';
}
/** USER_HZ: 100 on every Linux that Node supports. */
const CLOCK_TICKS_PER_SECOND = 100;

/** Busy CPU seconds of the whole machine so far (all cores; /proc/stat), null where unavailable. */
export function machineBusySeconds(): number | null {
  try {
    const [user, nice, system, _idle, _iowait, irq, softirq, steal] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    return ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) / CLOCK_TICKS_PER_SECOND;
  } catch (error) {
    if (isGone(error)) return null;
    throw error;
  }
}

/** The java process under DynamoDB Local's `sh` supervisor (the supervisor's child). */
export function childPids(parent: number): number[] {
  try {
    return readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number).filter((pid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === parent;
      } catch (error) {
        if (isGone(error)) return false;
        throw error;
      }
    });
  } catch (error) {
    if (isGone(error)) return [];
    throw error;
  }
}
