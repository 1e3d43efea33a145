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

/** When a process started, in ms since the epoch; undefined where /proc does not say. */
function startedAt(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const ticks = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]); // field 22, starttime
    const boot = Number(/^btime (\d+)$/m.exec(readFileSync("/proc/stat", "utf8"))?.[1]);
    return Number.isFinite(ticks) && Number.isFinite(boot) ? boot * 1000 + ticks * 10 : undefined;
  } catch {
    return undefined;
  }
}

/** This machine's name, as recorded beside a pid. */
export const thisHost = (): string => hostname();
