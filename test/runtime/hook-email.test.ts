import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { notify, type Hook } from "../../src/pipeline/hooks.js";
import { pipeline } from "../../src/pipeline/pipeline.js";
import { step } from "../../src/pipeline/step.js";
import type { RunEvent } from "../../src/runtime/events.js";
import { runPipeline } from "../../src/runtime/run-pipeline.js";
import { openWorkspace, type Workspace } from "../../src/runtime/workspace.js";
import { deadPort, startSmtpSink, type SmtpSink } from "../helpers/smtp-sink.js";

// Each test names the variables it sets; these are put back after it.
const ENV = ["STRATA_SMTP_URL", "STRATA_TEST_SMTP_URL", "STRATA_PUBLIC_URL"] as const;
const PASSWORD = "s3cret/p@ss";

let sink: SmtpSink;
let workspace: Workspace;

beforeAll(async () => {
  sink = await startSmtpSink();
});
afterAll(() => sink.close());
beforeEach(() => {
  sink.received.length = 0;
  sink.rcptReply = () => null;
  workspace = openWorkspace(":memory:");
});
afterEach(async () => {
  for (const name of ENV) delete process.env[name];
  await workspace.close();
});

function smtpUrl(port = sink.port): string {
  return `smtp://${encodeURIComponent("alerts@acme.test")}:${encodeURIComponent(PASSWORD)}@127.0.0.1:${port}`;
}

function hooked(options: { fail: boolean; onFailure?: Hook[]; onSuccess?: Hook[] }) {
  return pipeline("cltv", { onFailure: options.onFailure ?? [], onSuccess: options.onSuccess ?? [] }, () => {
    const load = step("load", () => 1);
    step("fit", { inputs: { load } }, () => {
      if (options.fail) throw new Error("loss is NaN\nat iteration 12");
      return 2;
    });
  });
}

async function warnings(runId: string) {
  return (await workspace.store.getLogs(runId))
    .filter((l) => l.level === 40)
    .map((l) => JSON.parse(l.line) as { msg: string; hook: string; code: string; attempts: number });
}

describe("notify.email", () => {
  it("takes STRATA_SMTP_URL, three tries and a 30 s timeout by default", () => {
    expect(notify.email({ to: "oncall@acme.test" })).toEqual({
      kind: "email",
      to: ["oncall@acme.test"],
      smtpUrlEnv: "STRATA_SMTP_URL",
      timeoutMs: 30_000,
      retry: { attempts: 3, delayMs: 500, factor: 2 },
    });
  });

  it("mails the failure over SMTP: recipients, subject, and a body with the run, the step, the code and the logs link", async () => {
    process.env.STRATA_SMTP_URL = smtpUrl();
    process.env.STRATA_PUBLIC_URL = "https://strata.acme.test/";
    const hook = notify.email({ to: ["oncall@acme.test", "ml@acme.test"] });
    const result = await runPipeline(hooked({ fail: true, onFailure: [hook] }), {
      workspace,
      trigger: { kind: "cron", id: "nightly" },
    });
    expect(result.status).toBe("failed");

    expect(sink.received).toHaveLength(1);
    const [{ mailFrom, rcptTo, login, mail }] = sink.received as [(typeof sink.received)[number]];
    expect(login).toEqual({ username: "alerts@acme.test", password: PASSWORD });
    expect(mailFrom).toBe("alerts@acme.test");
    expect(rcptTo).toEqual(["oncall@acme.test", "ml@acme.test"]);
    expect(mail.subject).toBe('[strata] cltv failed at step "fit" (STEP_FAILED)');

    const logsUrl = `https://strata.acme.test/v1/runs/${result.id}/logs`;
    const text = mail.text ?? "";
    for (const expected of [
      `Run id       ${result.id}`,
      "Pipeline     cltv",
      "Status       failed",
      "Failed step  fit",
      "Error code   STEP_FAILED",
      'Message      step "fit" failed: loss is NaN\n             at iteration 12',
      "Trigger      cron nightly",
      `Started      ${new Date(result.startedAt).toISOString()}`,
      `Logs         ${logsUrl}\n             strata runs logs ${result.id}`,
    ])
      expect(text).toContain(expected);
    expect(mail.html).toContain(`<a href="${logsUrl}">`);
    expect(mail.html).toContain("&#34;fit&#34; failed: loss is NaN");
  });

  it("takes its own variable, sender and subject, and mails successes too", async () => {
    process.env.STRATA_TEST_SMTP_URL = `smtp://127.0.0.1:${sink.port}`;
    const hook = notify.email({
      to: "team@acme.test",
      from: "Strata <noreply@acme.test>",
      smtpUrlEnv: "STRATA_TEST_SMTP_URL",
      subject: "{pipeline}: {status} ({runId})",
    });
    const result = await runPipeline(hooked({ fail: false, onSuccess: [hook] }), { workspace });
    expect(result.status).toBe("succeeded");
    const [received] = sink.received;
    expect(received?.login).toBeNull();
    expect(received?.mailFrom).toBe("noreply@acme.test");
    expect(received?.mail.subject).toBe(`cltv: succeeded (${result.id})`);
    // Without STRATA_PUBLIC_URL the logs link is the CLI command alone.
    expect(received?.mail.text).toContain(`Logs         strata runs logs ${result.id}\n`);
    expect(received?.mail.text).not.toContain("Failed step");
  });

  it("a dead SMTP port is tried again, then logged with HOOK_FAILED naming host:port and never the password", async () => {
    const port = await deadPort();
    process.env.STRATA_SMTP_URL = smtpUrl(port);
    const events: RunEvent[] = [];
    const hook = notify.email({ to: "oncall@acme.test", retry: { attempts: 3, delayMs: 5 } });
    const result = await runPipeline(hooked({ fail: true, onFailure: [hook] }), { workspace, onEvent: (e) => events.push(e) });

    expect(result.status).toBe("failed");
    expect(result.error?.code).toBe("STEP_FAILED");
    expect((await workspace.store.getRun(result.id)).status).toBe("failed");
    const failed = events.filter((e) => e.type === "hook-failed");
    expect(failed).toEqual([
      {
        type: "hook-failed",
        hook: `email to oncall@acme.test via $STRATA_SMTP_URL (127.0.0.1:${port})`,
        error: { code: "HOOK_FAILED", message: expect.stringContaining(`email via 127.0.0.1:${port} failed:`) as string },
      },
    ]);
    expect(events.at(-1)?.type).toBe("run-finished");
    expect(failed[0]?.type === "hook-failed" && failed[0].error.message).toContain("ECONNREFUSED");

    expect(await warnings(result.id)).toEqual([expect.objectContaining({ msg: "hook failed", code: "HOOK_FAILED", attempts: 3 })]);
    const logs = (await workspace.store.getLogs(result.id)).map((l) => l.line).join("\n");
    expect(logs.match(/hook attempt failed, retrying/g)).toHaveLength(2);
    for (const secret of [PASSWORD, encodeURIComponent(PASSWORD)]) {
      expect(logs).not.toContain(secret);
      expect(JSON.stringify(events)).not.toContain(secret);
    }
  });

  it("an unset SMTP variable fails at once, without retries, and the run keeps its result", async () => {
    const events: RunEvent[] = [];
    const result = await runPipeline(hooked({ fail: false, onSuccess: [notify.email({ to: "a@acme.test" })] }), {
      workspace,
      onEvent: (e) => events.push(e),
    });
    expect(result.status).toBe("succeeded");
    const failed = events.find((e) => e.type === "hook-failed");
    expect(failed?.type === "hook-failed" && failed.error.message).toContain("STRATA_SMTP_URL is not set");
    expect(await warnings(result.id)).toEqual([expect.objectContaining({ attempts: 1 })]);
  });

  it("a URL that is not smtp:// fails without echoing it", async () => {
    process.env.STRATA_SMTP_URL = `http://user:${encodeURIComponent(PASSWORD)}@127.0.0.1:${sink.port}`;
    const events: RunEvent[] = [];
    await runPipeline(hooked({ fail: true, onFailure: [notify.email({ to: "a@acme.test" })] }), {
      workspace,
      onEvent: (e) => events.push(e),
    });
    const failed = events.find((e) => e.type === "hook-failed");
    expect(failed?.type === "hook-failed" && failed.error.message).toBe(
      "email: $STRATA_SMTP_URL must start with smtp:// or smtps:// (got http://)",
    );
  });

  it("a recipient deferred once (451) is tried again and delivered; one refused for good (550) is not retried", async () => {
    process.env.STRATA_SMTP_URL = smtpUrl();
    let deferrals = 0;
    sink.rcptReply = (address) => (address === "gone@acme.test" ? 550 : deferrals++ === 0 ? 451 : null);
    const retry = { attempts: 3, delayMs: 1 };
    const deferred = await runPipeline(hooked({ fail: true, onFailure: [notify.email({ to: "oncall@acme.test", retry })] }), { workspace });
    expect(sink.received.map((r) => r.rcptTo)).toEqual([["oncall@acme.test"]]);
    const delivered = (await workspace.store.getLogs(deferred.id)).map((l) => JSON.parse(l.line) as { msg: string; attempts?: number });
    expect(delivered.find((l) => l.msg === "hook delivered")?.attempts).toBe(2);

    const events: RunEvent[] = [];
    const refused = await runPipeline(hooked({ fail: true, onFailure: [notify.email({ to: "gone@acme.test", retry })] }), {
      workspace,
      onEvent: (e) => events.push(e),
    });
    expect(refused.status).toBe("failed");
    const failed = events.find((e) => e.type === "hook-failed");
    expect(failed?.type === "hook-failed" && failed.error.message).toContain("550");
    expect(await warnings(refused.id)).toEqual([expect.objectContaining({ attempts: 1 })]);
  });
});
