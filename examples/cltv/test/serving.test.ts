// The customer-value endpoint while new CLTV scores are published: a client calls it without
// pause while the pipeline runs again in another process, and every answer is whole (one
// version's scores, even across a batch) and none fails. Also: the live implementation and its
// model alias, and the live-service example's checkout deciding an offer through the typed client.
import { execFile } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { openWorkspace, startModelsServer, type ModelsServer } from "strata";
import { createClient } from "strata/client";
import { afterEach, describe, expect, it } from "vitest";
import { offerFor } from "../../live-service/checkout.js";
import { decideOffer } from "../../live-service/offer.js";
import type customerValue from "../endpoints/customer-value/endpoint.js";

const EXAMPLE = join(dirname(fileURLToPath(import.meta.url)), "..");
const ROOT = join(EXAMPLE, "..", "..");
const run = promisify(execFile);

let dir: string | undefined;
let server: ModelsServer | undefined;
afterEach(async () => {
  await server?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = server = undefined;
});

/** The example in a temp folder, `strata` resolving to this repository. */
function copyExample(): string {
  const copy = mkdtempSync(join(tmpdir(), "cltv-serving-"));
  for (const entry of ["strata.config.ts", "pipelines", "steps", "endpoints", "data"])
    cpSync(join(EXAMPLE, entry), join(copy, entry), { recursive: true });
  writeFileSync(join(copy, "package.json"), '{ "type": "module", "private": true }\n');
  mkdirSync(join(copy, "node_modules"));
  symlinkSync(ROOT, join(copy, "node_modules", "strata"), "dir");
  return copy;
}

/** A failed command's error carries what it printed, so that the test report says why. */
async function runShowingOutput(...args: Parameters<typeof run>): Promise<void> {
  try {
    await run(...args);
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(`${(error as Error).message}\n${stdout ?? ""}\n${stderr ?? ""}`);
  }
}

/** Runs the pipeline in its own process, as a scheduler would. */
async function publish(project: string, horizonMonths: number): Promise<void> {
  await runShowingOutput(
    process.execPath,
    [
      join(ROOT, "bin", "strata.js"),
      "run",
      "cltv",
      "--project",
      project,
      "--param",
      `horizonMonths=${horizonMonths}`,
      "--progress",
      "none",
    ],
    {
      maxBuffer: 16 * 1024 * 1024,
    },
  );
}

type Score = { customerId: string; clv: number; pAlive: number; expectedPurchases: number; expectedSpend: number };

/** Equal up to floating-point noise (DuckDB sums in parallel). */
const close = (a: number, b: number): boolean => Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(b));

/** Every answer is a whole score, and each field matches `expected`'s. */
function expectScores(actual: Score[], expected: Score[]): void {
  expect(actual.map((s) => s.customerId)).toEqual(expected.map((s) => s.customerId));
  for (let i = 0; i < expected.length; i++)
    for (const field of ["clv", "pAlive", "expectedPurchases", "expectedSpend"] as const)
      expect(
        close(actual[i]![field], expected[i]![field]),
        `${expected[i]!.customerId} ${field}: ${actual[i]![field]} vs ${expected[i]![field]}`,
      ).toBe(true);
}
const CUSTOMERS = Array.from({ length: 40 }, (_, i) => String(1 + i * 587).padStart(5, "0"));

describe("the customer-value endpoint while new scores are published", () => {
  it(
    "answers every call, each batch from one version, while the pipeline publishes again; live scores with the model its alias names",
    { timeout: 240_000 },
    async () => {
      dir = copyExample();
      await publish(dir, 12);
      const keys = openWorkspace(join(dir, ".strata"), { projectDir: dir });
      const key = (await keys.apiKeys.create("test", ["invoke"], Date.now())).key;
      await keys.close();
      server = await startModelsServer({ projectDir: dir, port: 0 });
      const batch = async (implementation?: string): Promise<{ status: number; scores: Score[] }> => {
        const url = `${server!.url}/v1/endpoints/customer-value/${implementation ? `${implementation}/` : ""}batch`;
        const response = await fetch(url, {
          method: "POST",
          headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
          body: JSON.stringify({ inputs: CUSTOMERS.map((customerId) => ({ customerId })) }),
        });
        const body = (await response.json()) as { results: { output?: Score; error?: unknown }[] };
        return { status: response.status, scores: body.results.map((r) => r.output ?? (r.error as Score)) };
      };
      const twelve = (await batch()).scores;

      // The live-service example's checkout, through the typed client, decides its offer from these scores.
      const models = createClient<typeof customerValue>({ url: server.url, apiKey: key });
      const logged: string[] = [];
      const offer = await offerFor(models, CUSTOMERS[0]!, (line) => logged.push(line));
      expect(offer).toEqual({ customerId: CUSTOMERS[0], offer: decideOffer(twelve[0]), source: "models", implementation: "precomputed" });
      expect(logged).toEqual([]);
      // `live` computes the scores now from the registered model (the newest candidate while no
      // version is promoted to live) and the customer's published summary: the same as the batch's.
      const live = async (): Promise<Score[]> => (await batch("live")).scores;
      expectScores(await live(), twelve);

      await publish(dir, 24);
      const twentyFour = (await batch()).scores;
      // The two versions differ for every customer asked about, so an answer says which it came from.
      for (let i = 0; i < CUSTOMERS.length; i++) expect(twentyFour[i]!.clv).not.toBe(twelve[i]!.clv);
      // The second run registered version 2 as the candidate; models are read again after a second.
      await new Promise((resolve) => setTimeout(resolve, 1100));
      expectScores(await live(), twentyFour);
      // Promoting version 1 (12 months) to live: `live` follows the alias, the published scores stay.
      await runShowingOutput(
        process.execPath,
        [join(ROOT, "bin", "strata.js"), "models", "alias", "customer-value", "live", "1", "--project", dir],
        {},
      );
      await new Promise((resolve) => setTimeout(resolve, 1100));
      expectScores(await live(), twelve);
      expectScores((await batch()).scores, twentyFour);

      // A rerun with the same params gives the same scores up to floating-point noise (DuckDB sums
      // in parallel), so each answer is matched to a version within 1e-6, and a batch must match one whole.
      const versionOf = (scores: Score[]): string => {
        const versions = new Set(
          scores.map((s, i) => (close(s.clv, twelve[i]!.clv) ? "12" : close(s.clv, twentyFour[i]!.clv) ? "24" : "other")),
        );
        return versions.size === 1 ? [...versions][0]! : "mixed";
      };

      let publishing = true;
      const seen: string[] = [];
      const statuses = new Set<number>();
      const hammer = async (): Promise<void> => {
        while (publishing) {
          const answer = await batch();
          statuses.add(answer.status);
          seen.push(versionOf(answer.scores));
        }
      };
      const clients = [hammer(), hammer(), hammer()];
      await publish(dir, 12);
      await publish(dir, 24);
      publishing = false;
      await Promise.all(clients);

      expect([...statuses]).toEqual([200]);
      expect(seen.filter((v) => v === "mixed" || v === "other")).toEqual([]);
      expect(new Set(seen)).toEqual(new Set(["12", "24"]));
      expect(seen.length).toBeGreaterThan(20);
    },
  );
});
