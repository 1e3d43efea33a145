import { readFileSync } from "node:fs";
import { hostname } from "node:os";

/**
 * Whether a process of this machine is running. With `since` (ms since the epoch): and started no
 * later than then, where the machine says when its processes started (Linux), so a pid the
 * system has given to a new process since does not pass for the one that recorded it.
 */
export function isAlive(pid: number, since?: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EPERM") return false; // EPERM: exists, owned by someone else
  }
  if (since === undefined) return true;
  const started = startedAt(pid);
  return started === undefined || started <= since + START_SLACK_MS;
}

/** Start times from /proc are in clock ticks (USER_HZ, 100 on Linux everywhere): a tick of slack, and some. */
const START_SLACK_MS = 1000;

/**
 * The fields of `/proc/<pid>/stat` from the third on (state, ppid, ...: `fields[11]` is utime,
 * `fields[12]` stime, `fields[19]` starttime, in clock ticks); undefined when the process is gone
 * or the system has no /proc. The command name (field 2) may hold spaces: fields are counted from
 * its closing parenthesis.
 */
export function procStat(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  } catch {
    return undefined;
  }
}

/** When a process started, in ms since the epoch; undefined where /proc does not say. */
function startedAt(pid: number): number | undefined {
  const ticks = Number(procStat(pid)?.[19]);
  let boot: number;
  try {
    boot = Number(/^btime (\d+)$/m.exec(readFileSync("/proc/stat", "utf8"))?.[1]);
  } catch {
    return undefined;
  }
  return Number.isFinite(ticks) && Number.isFinite(boot) ? boot * 1000 + ticks * 10 : undefined;
}

/** This machine's name, as recorded beside a pid. */
export const thisHost = (): string => hostname();
