import { spawn, type ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { BIN, makeProject, strata } from "./helpers.js";

let project: ReturnType<typeof makeProject> | undefined;
let child: ChildProcess | undefined;
afterEach(() => {
  child?.kill("SIGKILL");
  project?.cleanup();
  child = project = undefined;
});

/** Starts `strata <command>` on a free port and waits for the line with its URL. */
async function start(command: "serve" | "dev", dir: string): Promise<{ url: string; output: () => string }> {
  // dev also runs the control plane: on a free port too, so that tests never collide on 8070.
  const ports = command === "dev" ? ["--port", "0", "--control-port", "0"] : ["--port", "0"];
  child = spawn(process.execPath, [BIN, command, ...ports, "--project", dir], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const deadline = Date.now() + 30_000;
  for (;;) {
    const match = /models service on (http:\/\/[^\s]+)/.exec(stderr);
    if (match) return { url: match[1]!, output: () => stderr };
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`the service did not start:\n${stderr}`);
    await new Promise((done) => setTimeout(done, 50));
  }
}

describe("strata serve and strata dev", () => {
  it(
    "serve lists what it serves, answers with a key, picks up a new implementation on SIGHUP, and stops cleanly on SIGTERM",
    { timeout: 90_000 },
    async () => {
      project = makeProject("serving");
      expect((await strata(["run", "publish", "--project", project.dir, "--param", "batch=3"])).code).toBe(0);
      const created = await strata(["keys", "create", "app", "--project", project.dir, "--json"]);
      const { key } = JSON.parse(created.stdout) as { key: string };
      const { url, output } = await start("serve", project.dir);
      expect(output()).toContain("scores: broken, lookup, table, wrong");
      const answer = await fetch(`${url}/v1/endpoints/scores`, {
        method: "POST",
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
        body: JSON.stringify({ customerId: "c2" }),
      });
      expect(await answer.json()).toEqual({ customerId: "c2", clv: 6, batch: 3 });

      // A new implementation file is served after SIGHUP, with no restart (the process stays the same).
      const callC = async (): Promise<{ status: number; body: unknown }> => {
        const response = await fetch(`${url}/v1/endpoints/ab/c`, {
          method: "POST",
          headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
          body: '{"user":{"id":"u1"}}',
        });
        return { status: response.status, body: await response.json() };
      };
      expect((await callC()).status).toBe(404);
      writeFileSync(
        join(project.dir, "endpoints", "ab", "c.ts"),
        'import { implement } from "strata";\nimport ab from "./endpoint.js";\n\nexport default implement(ab, () => ({ variant: "c" }));\n',
      );
      child!.kill("SIGHUP");
      const deadline = Date.now() + 20_000;
      let called = await callC();
      while (called.status === 404) {
        if (Date.now() > deadline) throw new Error(`not reloaded on SIGHUP:\n${output()}`);
        await new Promise((done) => setTimeout(done, 100));
        called = await callC();
      }
      expect(called).toEqual({ status: 200, body: { variant: "c" } });
      expect(output()).toMatch(/reloaded:\n(.|\n)*ab: a, b, c/);
      expect(child!.exitCode).toBeNull();

      const exited = new Promise<number | null>((done) => child!.once("exit", (code) => done(code)));
      child!.kill("SIGTERM");
      expect(await exited).toBe(0);
    },
  );

  it("dev reloads an implementation as soon as its file changes", { timeout: 90_000 }, async () => {
    project = makeProject("serving");
    const created = await strata(["keys", "create", "app", "--project", project.dir, "--json"]);
    const { key } = JSON.parse(created.stdout) as { key: string };
    const { url, output } = await start("dev", project.dir);
    // dev runs the control plane in the same process; it answers its health check.
    const control = /control plane on (http:\/\/[^\s]+)/.exec(output())![1]!;
    expect((await fetch(`${control}/healthz`)).status).toBe(200);
    const call = async (): Promise<unknown> =>
      (
        await fetch(`${url}/v1/endpoints/flaky/backup`, {
          method: "POST",
          headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
          body: '{"mode":"ok"}',
        })
      ).json();
    expect(await call()).toEqual({ by: "backup" });
    writeFileSync(
      join(project.dir, "endpoints", "flaky", "backup.ts"),
      'import { implement } from "strata";\nimport flaky from "./endpoint.js";\n\nexport default implement(flaky, () => ({ by: "backup, edited" }));\n',
    );
    const deadline = Date.now() + 20_000;
    while (JSON.stringify(await call()) !== '{"by":"backup, edited"}') {
      if (Date.now() > deadline) throw new Error(`not reloaded:\n${output()}`);
      await new Promise((done) => setTimeout(done, 100));
    }
    expect(output()).toContain("reloaded:");
  });
});
