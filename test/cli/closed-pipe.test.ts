import { spawn } from "node:child_process";
import { describe, expect, it } from "vitest";
import { BIN } from "./helpers.js";

describe("strata writing into a closed pipe", () => {
  it("ends quietly with its own exit code when the reader has gone (strata ... | head)", async () => {
    const child = spawn(process.execPath, [BIN, "serve", "--help"], { stdio: ["ignore", "pipe", "pipe"] });
    child.stdout.destroy(); // the reader is gone before anything is written
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    expect(stderr).not.toContain("EPIPE");
    expect(code).toBe(0);
  });
});
