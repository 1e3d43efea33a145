// The models service's hot-path validation: schemas compiled once (ajv validators and a
// fast-json-stringify serializer, src/serving/compiled-schema.ts) against the generic path a
// service would otherwise take per request: zod's `schema.parse()` and `JSON.stringify`.
//
//   npx tsx bench/serving-validation.ts [--rounds 7] [--ms 300] [--check]
//
// The schemas are those of the benchmark project's `score` endpoint
// (bench/serving-fixture/endpoints/score/endpoint.ts, the endpoint bench/serving.ts loads), so
// `npm run build` must have run: the fixture imports `strata` as a project does. Per operation:
//
//   input check    compiled checkInput(input)                    vs inputSchema.parse(input)
//   output         compiled checkOutput(output) + serialize()    vs outputSchema.parse(output) + JSON.stringify
//   one call       both of the above, what one request costs     vs both of the above
//   bad input      checkInput of an invalid input (issues listed) vs inputSchema.safeParse (issues listed)
//
// Rounds alternate the two sides (each round starting with the other one); each measurement
// runs the operation for about `--ms` milliseconds over 1,000 different values. Reported:
// median operations per second of each side, min-max, and compiled / zod.
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import type { z } from "zod";
import { compileSchemas } from "../src/serving/compiled-schema.js";
import { cliOptions, fmt, machineLine, max, median, min, table } from "./lib.js";

const USAGE = `usage: npx tsx bench/serving-validation.ts [--rounds N] [--ms N] [--check]

  --rounds N   measured rounds of each side; medians are reported (default 7)
  --ms N       milliseconds per measurement (default 300)
  --check      exit with status 1 when the compiled path is slower than zod on any operation

Needs the built package (npm run build): the fixture's endpoint imports \`strata\`.`;

const { numbers, flags } = cliOptions(USAGE, { rounds: [7, 1], ms: [300, 10] });

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const VALUES = 1000;

interface Case {
  readonly name: string;
  readonly compiled: (i: number) => number;
  readonly zod: (i: number) => number;
}

/** Operations per second of `op` run for about `ms` milliseconds (calibrated in batches of 1,000). */
function opsPerSecond(op: (i: number) => number, ms: number): { ops: number; sink: number } {
  let sink = 0;
  let done = 0;
  const started = performance.now();
  let elapsed = 0;
  while (elapsed < ms) {
    for (let i = 0; i < 1000; i++) sink += op((done + i) % VALUES);
    done += 1000;
    elapsed = performance.now() - started;
  }
  return { ops: (done / elapsed) * 1000, sink };
}

async function main(): Promise<void> {
  if (!existsSync(join(ROOT, "dist", "index.js")))
    throw new Error(`the built package is missing (the fixture imports \`strata\`): run \`npm run build\` in ${ROOT} first`);
  const fixture = "./serving-fixture/endpoints/score/endpoint.js";
  const { default: score } = (await import(fixture)) as { default: { input: z.ZodType; output: z.ZodType } };
  const compiled = compileSchemas(score.input, score.output);

  // 1,000 different values of each, as requests and published documents would be.
  const inputs = Array.from({ length: VALUES }, (_, i) => ({ customerId: `C${String(i * 97).padStart(6, "0")}` }));
  const outputs = Array.from({ length: VALUES }, (_, i) => ({
    customerId: inputs[i]!.customerId,
    clv: Math.round(i * 137.31) / 100,
    pAlive: (i % 1000) / 1000,
    expectedPurchases: Math.round(i * 7.7) / 1000,
    frequency: i % 40,
    recencyDays: i % 365,
  }));
  const badInputs = Array.from({ length: VALUES }, (_, i) => (i % 2 ? { customerId: i } : { customer: `C${i}` }));

  // Both sides must agree before anything is timed: same verdicts, same JSON text.
  for (let i = 0; i < VALUES; i++) {
    const out = outputs[i]!;
    if (compiled.checkInput({ ...inputs[i]! }) !== null || !score.input.safeParse(inputs[i]).success)
      throw new Error(`input ${i} should be valid`);
    if (compiled.checkOutput(out) !== null) throw new Error(`output ${i} should be valid: ${JSON.stringify(out)}`);
    const a = compiled.serialize(out);
    const b = JSON.stringify(score.output.parse(out));
    if (a !== b) throw new Error(`the two serializations differ:\n  ${a}\n  ${b}`);
    if (compiled.checkInput({ ...badInputs[i]! }) === null || score.input.safeParse(badInputs[i]).success)
      throw new Error(`bad input ${i} should be refused`);
  }

  const cases: Case[] = [
    {
      name: "input check",
      // checkInput fills defaults in place, as the service does with the parsed body.
      compiled: (i) => (compiled.checkInput(inputs[i]) === null ? 1 : 0),
      zod: (i) => (score.input.parse(inputs[i]) ? 1 : 0),
    },
    {
      name: "output check + JSON",
      compiled: (i) => (compiled.checkOutput(outputs[i]) === null ? compiled.serialize(outputs[i]).length : 0),
      zod: (i) => JSON.stringify(score.output.parse(outputs[i])).length,
    },
    {
      name: "one call (both)",
      compiled: (i) => {
        if (compiled.checkInput(inputs[i]) !== null) return 0;
        return compiled.checkOutput(outputs[i]) === null ? compiled.serialize(outputs[i]).length : 0;
      },
      zod: (i) => {
        score.input.parse(inputs[i]);
        return JSON.stringify(score.output.parse(outputs[i])).length;
      },
    },
    {
      name: "bad input (issues)",
      compiled: (i) => compiled.checkInput(badInputs[i])?.length ?? 0,
      zod: (i) => {
        const r = score.input.safeParse(badInputs[i]);
        return r.success ? 0 : r.error.issues.length;
      },
    },
  ];

  console.log(`serving-validation: the \`score\` endpoint's schemas, ${numbers.rounds} rounds of ~${numbers.ms} ms per side and operation`);
  console.log(await machineLine());
  console.log(`input schema:  ${JSON.stringify(compiled.inputSchema)}`);
  console.log(`output schema: ${JSON.stringify(compiled.outputSchema)}\n`);

  let sink = 0;
  // One unmeasured round warms up the JIT of both sides.
  for (const c of cases) {
    sink += opsPerSecond(c.compiled, numbers.ms).sink + opsPerSecond(c.zod, numbers.ms).sink;
  }
  const results = new Map<string, { compiled: number[]; zod: number[] }>(cases.map((c) => [c.name, { compiled: [], zod: [] }]));
  for (let round = 0; round < numbers.rounds; round++) {
    for (const c of cases) {
      const r = results.get(c.name)!;
      const sides = round % 2 === 0 ? (["compiled", "zod"] as const) : (["zod", "compiled"] as const);
      for (const side of sides) {
        const m = opsPerSecond(c[side], numbers.ms);
        sink += m.sink;
        r[side].push(m.ops);
      }
    }
  }

  const k = (n: number): string => `${fmt(n / 1000, 0)}k`;
  let slower = false;
  const rows = cases.map((c) => {
    const r = results.get(c.name)!;
    const ratio = median(r.compiled) / median(r.zod);
    if (ratio < 1) slower = true;
    return [
      c.name,
      k(median(r.compiled)),
      `${k(min(r.compiled))}–${k(max(r.compiled))}`,
      fmt(1e6 / median(r.compiled), 2),
      k(median(r.zod)),
      `${k(min(r.zod))}–${k(max(r.zod))}`,
      fmt(1e6 / median(r.zod), 2),
      `${fmt(ratio, 1)}×`,
    ];
  });
  console.log("operations per second (median of rounds), and µs per operation:");
  console.log(table(["operation", "compiled ops/s", "spread", "µs", "zod ops/s", "spread", "µs", "compiled / zod"], rows));
  if (sink === -1) console.log(""); // keeps the results alive
  if (flags.check && slower) process.exitCode = 1;
}

await main();
