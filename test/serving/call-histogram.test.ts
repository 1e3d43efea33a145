import { describe, expect, it } from "vitest";
import { CallHistogram } from "../../src/serving/call-histogram.js";

describe("CallHistogram", () => {
  it("counts each call in the first bucket whose bound it does not exceed, and writes cumulative buckets, sum and count", () => {
    const histogram = new CallHistogram("calls_seconds", "Time per call", [0.001, 0.01]);
    for (const seconds of [0.0005, 0.001, 0.002, 0.5]) histogram.observe("score", "lookup", "ok", seconds);
    histogram.observe("score", "lookup", "error", 0.02);
    const ok = 'endpoint="score",implementation="lookup",outcome="ok"';
    const error = 'endpoint="score",implementation="lookup",outcome="error"';
    expect(histogram.text()).toBe(
      [
        "# HELP calls_seconds Time per call",
        "# TYPE calls_seconds histogram",
        `calls_seconds_bucket{${ok},le="0.001"} 2`,
        `calls_seconds_bucket{${ok},le="0.01"} 3`,
        `calls_seconds_bucket{${ok},le="+Inf"} 4`,
        `calls_seconds_sum{${ok}} ${0.0005 + 0.001 + 0.002 + 0.5}`,
        `calls_seconds_count{${ok}} 4`,
        `calls_seconds_bucket{${error},le="0.001"} 0`,
        `calls_seconds_bucket{${error},le="0.01"} 0`,
        `calls_seconds_bucket{${error},le="+Inf"} 1`,
        `calls_seconds_sum{${error}} 0.02`,
        `calls_seconds_count{${error}} 1`,
        "",
      ].join("\n"),
    );
  });

  it("escapes backslashes, double quotes and line feeds in label values", () => {
    const histogram = new CallHistogram("calls_seconds", "Time per call", [1]);
    histogram.observe('a"b', "c\\d\ne", "ok", 0.5);
    expect(histogram.text()).toContain('calls_seconds_count{endpoint="a\\"b",implementation="c\\\\d\\ne",outcome="ok"} 1');
  });

  it("writes only its header before any call", () => {
    expect(new CallHistogram("calls_seconds", "Time per call", [1]).text()).toBe(
      "# HELP calls_seconds Time per call\n# TYPE calls_seconds histogram\n",
    );
  });
});
