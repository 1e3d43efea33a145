import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { notify, type Hook } from "../../src/pipeline/hooks.js";

const { webhook, command } = notify;
import { pipeline } from "../../src/pipeline/pipeline.js";
import { step } from "../../src/pipeline/step.js";
import type { RunEvent } from "../../src/runtime/events.js";
import type { HookPayload } from "../../src/runtime/hook-runner.js";
import { deliverWithRetry } from "../../src/runtime/hook-retry.js";
import { runPipeline } from "../../src/runtime/run-pipeline.js";
import { openWorkspace, type Workspace } from "../../src/runtime/workspace.js";
import { startWebhookSink, type ReceivedHook, type WebhookSink } from "../helpers/webhook-sink.js";

let sink: WebhookSink;
let base = "";
let received: ReceivedHook[] = [];
// Requests seen per path, so `/flaky-<n>` can fail its first n.
const seen = new Map<string, number>();

function statusFor(path: string): number {
  const count = (seen.get(path) ?? 0) + 1;
  seen.set(path, count);
  if (path.startsWith("/broken")) return 500;
  if (path.startsWith("/gone")) return 404;
  const flaky = /^\/flaky-(\d+)/.exec(path);
  return flaky && count <= Number(flaky[1]) ? 503 : 200;
}

beforeAll(async () => {
  sink = await startWebhookSink((res, hook) => {
    res.statusCode = statusFor(hook.path);
    res.end();
  });
  base = sink.url;
  received = sink.received;
});
afterAll(async () => {
  await sink.close();
});

let workspace: Workspace;
let dir: string;
beforeEach(() => {
  received.length = 0;
  seen.clear();
  workspace = openWorkspace(":memory:");
  dir = mkdtempSync(join(tmpdir(), "strata-hooks-"));
});
afterEach(async () => {
  delete process.env.STRATA_PUBLIC_URL;
  await workspace.close();
  rmSync(dir, { recursive: true, force: true });
});

function hooked(options: { fail: boolean; onFailure?: Hook[]; onSuccess?: Hook[] }) {
  return pipeline("hooked", { onFailure: options.onFailure ?? [], onSuccess: options.onSuccess ?? [] }, () => {
    const load = step("load", () => 1);
    step("train", { inputs: { load } }, () => {
      if (options.fail) throw new Error("loss is NaN");
      return 2;
    });
  });
}

// Tries with waits short enough to keep the tests quick.
const fast = { attempts: 3, delayMs: 1 };

describe("hooks", () => {
  it("onFailure webhook receives a POST with the run's summary as JSON", async () => {
    const p = hooked({ fail: true, onFailure: [webhook({ url: `${base}/alert` }, { headers: { "x-team": "ml" } })] });
    const result = await runPipeline(p, { workspace, trigger: { kind: "test", id: "trig-1" } });
    expect(result.status).toBe("failed");
    expect(received).toHaveLength(1);
    const [request] = received;
    expect(request).toMatchObject({ method: "POST", path: "/alert" });
    expect(request!.headers["content-type"]).toBe("application/json");
    expect(request!.headers["x-team"]).toBe("ml");
    expect(request!.body).toEqual({
      runId: result.id,
      pipeline: "hooked",
      status: "failed",
      triggerKind: "test",
      triggerId: "trig-1",
      failedStep: "train",
      errorCode: "STEP_FAILED",
      message: 'step "train" failed: loss is NaN',
      startedAt: new Date(result.startedAt).toISOString(),
      endedAt: new Date(result.endedAt!).toISOString(),
      logs: `strata runs logs ${result.id}`,
      logsUrl: null,
    });
  });

  it("carries a link to the run's logs when STRATA_PUBLIC_URL says where the control plane is", async () => {
    process.env.STRATA_PUBLIC_URL = "https://strata.acme.test//";
    const result = await runPipeline(hooked({ fail: true, onFailure: [webhook({ url: `${base}/alert` })] }), { workspace });
    expect(received.map((r) => [r.body.logs, r.body.logsUrl])).toEqual([
      [`strata runs logs ${result.id}`, `https://strata.acme.test/v1/runs/${result.id}/logs`],
    ]);
  });

  it("a webhook can take its URL from an environment variable", async () => {
    const env = "STRATA_TEST_HOOK_URL_SET";
    process.env[env] = `${base}/from-env`;
    try {
      const result = await runPipeline(hooked({ fail: true, onFailure: [webhook({ urlEnv: env })] }), { workspace });
      expect(received.map((r) => [r.path, r.body.runId])).toEqual([["/from-env", result.id]]);
    } finally {
      delete process.env[env];
    }
  });

  it("a command hook gets the JSON summary on stdin and STRATA_* variables", async () => {
    const json = join(dir, "payload.json");
    const env = join(dir, "env.txt");
    const p = hooked({
      fail: true,
      onFailure: [command(`cat > '${json}' && printf '%s|%s|%s' "$STRATA_RUN_ID" "$STRATA_FAILED_STEP" "$STRATA_ERROR_CODE" > '${env}'`)],
    });
    const result = await runPipeline(p, { workspace });
    const payload = JSON.parse(readFileSync(json, "utf8")) as HookPayload;
    expect(payload).toMatchObject({
      runId: result.id,
      pipeline: "hooked",
      status: "failed",
      failedStep: "train",
      errorCode: "STEP_FAILED",
    });
    expect(readFileSync(env, "utf8")).toBe(`${result.id}|train|STEP_FAILED`);
  });

  it("a command hook gets the logs link as STRATA_LOGS_URL and in its JSON", async () => {
    process.env.STRATA_PUBLIC_URL = "http://127.0.0.1:8080";
    const json = join(dir, "payload.json");
    const env = join(dir, "env.txt");
    const p = hooked({
      fail: true,
      onFailure: [command(`cat > '${json}' && printf '%s|%s|%s' "$STRATA_LOGS_URL" "$STRATA_LOGS" "$STRATA_TRIGGER_KIND" > '${env}'`)],
    });
    const result = await runPipeline(p, { workspace, trigger: { kind: "test", id: "t" } });
    const url = `http://127.0.0.1:8080/v1/runs/${result.id}/logs`;
    expect((JSON.parse(readFileSync(json, "utf8")) as HookPayload).logsUrl).toBe(url);
    expect(readFileSync(env, "utf8")).toBe(`${url}|strata runs logs ${result.id}|test`);
  });

  it("onSuccess hooks fire only on success, onFailure hooks only on failure", async () => {
    const hooks = { onSuccess: [webhook({ url: `${base}/ok` })], onFailure: [webhook({ url: `${base}/fail` })] };
    const ok = await runPipeline(hooked({ fail: false, ...hooks }), { workspace });
    expect(ok.status).toBe("succeeded");
    expect(received.map((r) => [r.path, r.body.status, r.body.failedStep, r.body.errorCode])).toEqual([["/ok", "succeeded", null, null]]);

    received.length = 0;
    const bad = await runPipeline(hooked({ fail: true, ...hooks }), { workspace });
    expect(bad.status).toBe("failed");
    expect(received.map((r) => r.path)).toEqual(["/fail"]);
  });

  it("no hook fires for a cancelled run", async () => {
    const controller = new AbortController();
    controller.abort();
    const hooks = { onSuccess: [webhook({ url: `${base}/ok` })], onFailure: [webhook({ url: `${base}/fail` })] };
    const result = await runPipeline(hooked({ fail: true, ...hooks }), { workspace, signal: controller.signal });
    expect(result.status).toBe("cancelled");
    expect(received).toEqual([]);
  });

  it.each([
    // Described by host only: a webhook URL's path or query may hold a token.
    [
      "a webhook answering 500",
      (): Hook => webhook({ url: `${base}/broken?token=secret` }, { retry: fast }),
      expect.stringMatching(/^webhook url \(127\.0\.0\.1:\d+\)$/),
      "500",
    ],
    [
      "a command exiting 3",
      (): Hook => command("echo oops >&2; exit 3", { retry: fast }),
      'command "echo oops >&2; exit 3"',
      "exited with 3: oops",
    ],
    [
      "a webhook whose urlEnv is unset",
      (): Hook => webhook({ urlEnv: "STRATA_TEST_HOOK_URL_UNSET" }),
      "webhook $STRATA_TEST_HOOK_URL_UNSET",
      "STRATA_TEST_HOOK_URL_UNSET is not set",
    ],
  ])("%s does not change the run's status, emits hook-failed and logs a warning", async (_what, makeHook, description, message) => {
    delete process.env.STRATA_TEST_HOOK_URL_UNSET;
    for (const fail of [true, false]) {
      const events: RunEvent[] = [];
      const hook = makeHook();
      const p = hooked({ fail, ...(fail ? { onFailure: [hook] } : { onSuccess: [hook] }) });
      const result = await runPipeline(p, { workspace, onEvent: (e) => events.push(e) });
      expect(result.status).toBe(fail ? "failed" : "succeeded");
      expect((await workspace.store.getRun(result.id)).status).toBe(fail ? "failed" : "succeeded");

      const failed = events.filter((e) => e.type === "hook-failed");
      expect(failed).toHaveLength(1);
      expect(failed[0]).toMatchObject({ hook: description, error: { code: "HOOK_FAILED" } });
      expect(failed[0]!.type === "hook-failed" && failed[0]!.error.message).toContain(message);
      expect(events.at(-1)?.type).toBe("run-finished");

      const warnings = (await workspace.store.getLogs(result.id))
        .filter((l) => l.level === 40)
        .map((l) => JSON.parse(l.line) as { msg: string; hook: string; code: string; runId: string });
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatchObject({ msg: "hook failed", hook: description, code: "HOOK_FAILED", runId: result.id });
    }
  });

  it("one failing hook does not stop the others", async () => {
    const p = hooked({ fail: true, onFailure: [command("exit 1", { retry: fast }), webhook({ url: `${base}/second` })] });
    const result = await runPipeline(p, { workspace });
    expect(result.status).toBe("failed");
    expect(received.map((r) => r.path)).toEqual(["/second"]);
    const logs = await workspace.store.getLogs(result.id);
    expect(logs.some((l) => (JSON.parse(l.line) as { msg: string }).msg === "hook delivered")).toBe(true);
  });

  it("a webhook answering 503 is tried again and delivered on its third try", async () => {
    const result = await runPipeline(hooked({ fail: true, onFailure: [webhook({ url: `${base}/flaky-2` }, { retry: fast })] }), {
      workspace,
    });
    expect(received.map((r) => [r.path, r.body.runId])).toEqual([
      ["/flaky-2", result.id],
      ["/flaky-2", result.id],
      ["/flaky-2", result.id],
    ]);
    const logs = (await workspace.store.getLogs(result.id)).map(
      (l) => JSON.parse(l.line) as { msg: string; attempt?: number; attempts?: number },
    );
    expect(logs.filter((l) => l.msg === "hook attempt failed, retrying").map((l) => l.attempt)).toEqual([1, 2]);
    expect(logs.find((l) => l.msg === "hook delivered")?.attempts).toBe(3);
    expect(logs.some((l) => l.msg === "hook failed")).toBe(false);
  });

  it("a webhook answering 404 is not tried again: the request itself is wrong", async () => {
    const events: RunEvent[] = [];
    const result = await runPipeline(hooked({ fail: true, onFailure: [webhook({ url: `${base}/gone` }, { retry: fast })] }), {
      workspace,
      onEvent: (e) => events.push(e),
    });
    expect(result.status).toBe("failed");
    expect(received).toHaveLength(1);
    expect(events.filter((e) => e.type === "hook-failed")).toHaveLength(1);
  });

  it("waits between tries grow by the hook's factor, through the injected sleep", async () => {
    const sleeps: number[] = [];
    const retried: number[] = [];
    const payload = { runId: "r1" } as HookPayload;
    const outcome = await deliverWithRetry(
      webhook({ url: `${base}/broken` }, { retry: { attempts: 4, delayMs: 100, factor: 3 } }),
      payload,
      {
        sleep: (ms) => (sleeps.push(ms), Promise.resolve()),
        onRetry: ({ attempt }) => retried.push(attempt),
      },
    );
    expect(outcome).toMatchObject({ ok: false, attempts: 4, error: { code: "HOOK_FAILED" } });
    expect(sleeps).toEqual([100, 300, 900]);
    expect(retried).toEqual([1, 2, 3]);
    expect(received).toHaveLength(4);
  });
});
