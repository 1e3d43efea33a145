// CPU time of processes, read from /proc (Linux only): where a benchmark's CPU goes, per process
// role, when the load generator, the servers and the databases share one machine.
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { procStat } from "../src/storage/process-liveness.js";

/** Clock ticks per second of /proc's CPU times (USER_HZ). */
const CLOCK_TICKS = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;

/** CPU time a process (all its threads) has used so far, in ms, in user space and in the kernel; 0 when it is gone. */
export function processCpuMs(pid: number): { user: number; system: number } {
  const fields = procStat(pid);
  if (!fields) return { user: 0, system: 0 };
  return { user: (Number(fields[11]) * 1000) / CLOCK_TICKS, system: (Number(fields[12]) * 1000) / CLOCK_TICKS };
}

const cpuMs = (pid: number): number => {
  const { user, system } = processCpuMs(pid);
  return user + system;
};

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
