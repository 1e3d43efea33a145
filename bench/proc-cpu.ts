// CPU time of processes, read from /proc (Linux only): where a benchmark's CPU goes, per process
// role, when the load generator, the servers and the databases share one machine.
import { readdirSync, readFileSync } from "node:fs";

/** Clock ticks per second of /proc/<pid>/stat's utime and stime (USER_HZ, 100 on Linux everywhere). */
const TICKS_PER_S = 100;

/** User plus system CPU of a process so far, in ms; 0 when it is gone or /proc is not there. */
function cpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may hold spaces: the fields after it are counted from its ")".
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_S;
  } catch {
    return 0;
  }
}

/** Process ids whose command name is one of `names` (e.g. postgres, redis-server). */
export function pidsNamed(names: readonly string[]): number[] {
  let entries: string[];
  try {
    entries = readdirSync("/proc").filter((e) => /^\d+$/.test(e));
  } catch {
    return [];
  }
  return entries.map(Number).filter((pid) => {
    try {
      return names.includes(readFileSync(`/proc/${pid}/comm`, "utf8").trim());
    } catch {
      return false;
    }
  });
}

/** Role -> the processes playing it; a function, for roles whose processes come and go (database backends). */
export type Roles = Readonly<Record<string, () => readonly number[]>>;

/** CPU used by each role between `start()` and the call of the function it returns, in ms. */
export function cpuByRole(roles: Roles): { start(): () => Record<string, number> } {
  return {
    start() {
      const before = new Map<number, number>();
      for (const pids of Object.values(roles)) for (const pid of pids()) before.set(pid, cpuMs(pid));
      return () =>
        Object.fromEntries(
          Object.entries(roles).map(([role, pids]) => [role, pids().reduce((sum, pid) => sum + cpuMs(pid) - (before.get(pid) ?? 0), 0)]),
        );
    },
  };
}
