import { hostname } from "node:os";

/** Whether a process of this machine is running (pid reuse aside). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM"; // exists, owned by someone else
  }
}

/** This machine's name, as recorded beside a pid. */
export const thisHost = (): string => hostname();
