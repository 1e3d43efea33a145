import { describe, expect, it } from "vitest";
import { Deadlines } from "../../src/serving/deadlines.js";

describe("Deadlines", () => {
  it("expires a budget once its time has passed, within a tick, and never one that was cancelled", async () => {
    const deadlines = new Deadlines(2);
    const expired: string[] = [];
    const started = performance.now();
    let expiredAt = 0;
    deadlines.watch(15, () => {
      expired.push("slow");
      expiredAt = performance.now() - started;
    });
    const done = deadlines.watch(15, () => expired.push("done"));
    done.cancel();
    deadlines.watch(1000, () => expired.push("later"));
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(expired).toEqual(["slow"]);
    expect(expiredAt).toBeGreaterThanOrEqual(15);
  });

  it("watches a budget set by an expiring one, and never calls one that was cancelled", async () => {
    const deadlines = new Deadlines(2);
    const expired: string[] = [];
    deadlines.watch(5, () => {
      expired.push("first");
      deadlines.watch(5, () => expired.push("second"));
    });
    const many = Array.from({ length: 1000 }, () => deadlines.watch(5, () => expired.push("cancelled")));
    for (const deadline of many) deadline.cancel();
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(expired).toEqual(["first", "second"]);
  });
});
