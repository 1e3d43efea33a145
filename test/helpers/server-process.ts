import { spawn, type ChildProcess } from "node:child_process";
import { BIN } from "../cli/helpers.js";

export interface ServerProcess {
  readonly url: string;
  readonly child: ChildProcess;
  /** What it said on stderr so far. */
  output(): string;
}

/** `strata server --port 0` as its own process, resolved once it says where it listens. */
export async function startServerProcess(projectDir: string, env: Record<string, string> = {}): Promise<ServerProcess> {
  const child = spawn(process.execPath, [BIN, "server", "--port", "0", "--project", projectDir], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const deadline = Date.now() + 30_000;
  for (;;) {
    const match = /control plane on (http:\/\/\S+)/.exec(stderr);
    if (match) return { url: match[1]!, child, output: () => stderr };
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill("SIGKILL");
      throw new Error(`strata server did not start:\n${stderr}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Kills it with SIGKILL (no clean-up of any kind) and waits for it to be gone. */
export async function killHard(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGKILL");
  await gone;
}
