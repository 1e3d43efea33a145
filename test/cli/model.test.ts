import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { fixture } from "../models/helpers.js";
import { makeProject, strata } from "./helpers.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "strata-model-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const SUMMARY = fixture("cdnow_customers_summary.csv");
const MONEY = fixture("cdnow_customers_summary_monetary.csv");
const SLOW = { timeout: 60_000 };

describe("strata model", () => {
  it("fit bg-nbd --json prints the published parameters, and predict writes one row per customer", SLOW, async () => {
    const out = join(dir, "bgnbd.json");
    const fit = await strata(["model", "fit", "bg-nbd", SUMMARY, "--out", out, "--json"]);
    expect(fit.code).toBe(0);
    const result = JSON.parse(fit.stdout) as {
      params: Record<string, number>;
      logLikelihood: number;
      iterations: number;
      converged: boolean;
    };
    expect(Object.keys(result.params)).toEqual(["r", "alpha", "a", "b"]);
    expect(result.params.r!.toPrecision(3)).toBe("0.243");
    expect(result.params.alpha!.toPrecision(4)).toBe("4.414");
    expect(result.logLikelihood).toBeCloseTo(-9582.43, 1);
    expect(result.converged).toBe(true);
    expect(result.iterations).toBeGreaterThan(0);

    const predictions = join(dir, "predictions.csv");
    const predicted = await strata(["model", "predict", out, SUMMARY, "--horizon", "39", "--out", predictions]);
    expect(predicted.code).toBe(0);
    const lines = readFileSync(predictions, "utf8").trim().split("\n");
    expect(lines[0]).toBe("customer_id,expected_purchases,p_alive");
    expect(lines).toHaveLength(2358);
    const [id, expected, alive] = lines[1]!.split(",");
    expect(id).toBe("1");
    expect(Number(expected)).toBeCloseTo(1.226, 2);
    expect(Number(alive)).toBeCloseTo(0.7266, 3);
  });

  it("fits pareto-nbd and gamma-gamma with their parameter names; gamma-gamma predicts expected spend", SLOW, async () => {
    const pareto = JSON.parse((await strata(["model", "fit", "pareto-nbd", SUMMARY, "--json"])).stdout) as {
      params: Record<string, number>;
    };
    expect(Object.keys(pareto.params)).toEqual(["r", "alpha", "s", "beta"]);
    expect(pareto.params.s!.toPrecision(3)).toBe("0.606");
    const out = join(dir, "gg.json");
    const gg = await strata(["model", "fit", "gamma-gamma", MONEY, "--out", out]);
    expect(gg.code).toBe(0);
    expect(gg.stdout).toMatch(/^gamma-gamma fit on 2357 customers \(946 repeat\)/);
    expect(gg.stdout).toMatch(/p\s+6\.249/);
    const predictions = join(dir, "spend.csv");
    expect((await strata(["model", "predict", out, MONEY, "--horizon", "1", "--out", predictions])).code).toBe(0);
    expect(readFileSync(predictions, "utf8").split("\n")[0]).toBe("customer_id,expected_spend");
  });

  it("names the file, line and column of a bad value, and a missing column, with exit 2", SLOW, async () => {
    const bad = join(dir, "bad.csv");
    writeFileSync(bad, "customer_id,frequency,recency,T\n1,2,30.4,38.9\n2,two,1.7,38.9\n");
    const result = await strata(["model", "fit", "bg-nbd", bad]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`error MODEL_INPUT_INVALID: ${bad} line 3, column "frequency": "two" is not a number >= 0`);
    const noMoney = await strata(["model", "fit", "gamma-gamma", SUMMARY]);
    expect(noMoney.code).toBe(2);
    expect(noMoney.stderr).toContain("the header lacks monetary_value");
    const unknown = await strata(["model", "fit", "bg-nbb", SUMMARY]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("Allowed choices are bg-nbd, pareto-nbd, gamma-gamma");
    const notModel = join(dir, "x.json");
    writeFileSync(notModel, "{}");
    const predict = await strata(["model", "predict", notModel, SUMMARY, "--horizon", "4", "--out", join(dir, "p.csv")]);
    expect(predict.code).toBe(2);
    expect(predict.stderr).toContain("not a Strata CLTV model");
  });
});

describe("strata models list", () => {
  it("lists registered models with version, alias, metrics and the run that trained them", SLOW, async () => {
    const project = makeProject("models");
    try {
      const cli = (...args: string[]) => strata([...args, "--project", project.dir]);
      const first = await cli("models", "list");
      expect(first.stdout, `code ${first.code}: ${first.stderr}`).toContain("no model registered yet");
      expect((await cli("run", "train")).code).toBe(0);
      expect((await cli("run", "train")).code).toBe(0);
      const listed = await cli("models", "list");
      expect(listed.stdout).toMatch(/churn\s+2\s+candidate\s+logistic\s+auc 0\.8123/);
      expect(listed.stdout).toMatch(/churn\s+1\s+logistic/);
      const json = JSON.parse((await cli("models", "list", "churn", "--json")).stdout) as {
        version: number;
        runId: string;
        step: string;
      }[];
      expect(json.map((v) => [v.version, v.step])).toEqual([
        [1, "fit"],
        [2, "fit"],
      ]);
      const promoted = await cli("models", "alias", "churn", "live", "1");
      expect(promoted.stdout).toBe("churn: live -> version 1\n");
      expect((await cli("models", "list", "churn")).stdout).toMatch(/churn\s+1\s+live\s+logistic/);
      const missing = await cli("models", "alias", "churn", "live", "9");
      expect(missing.code).toBe(2);
      expect(missing.stderr).toContain('model "churn" has no version or alias 9 (versions: 1, 2)');
      const unknown = await cli("models", "list", "nope");
      expect(unknown.code).toBe(2);
      expect(unknown.stderr).toContain('error MODEL_NOT_FOUND: no model named "nope" is registered');
    } finally {
      project.cleanup();
    }
  });
});
