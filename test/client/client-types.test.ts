import { describe, expectTypeOf, it } from "vitest";
import { z } from "zod";
import { createClient, type BatchItem, type EndpointContract, type StrataClient, type StrataClientError } from "../../src/client/index.js";
import { endpoint } from "../../src/serving/endpoint.js";

// Type-only checks: nothing here sends a request (the functions below are never called).
// `npx tsc --noEmit -p .` checks them, `@ts-expect-error` lines included; vitest runs the file too.

const scores = endpoint("scores", {
  input: z.object({ customerId: z.string().min(1), detail: z.enum(["short", "full"]).default("short") }),
  output: z.object({ customerId: z.string(), clv: z.number(), batch: z.number().int() }),
});
const flaky = endpoint("flaky", { input: z.object({ mode: z.enum(["ok", "slow", "fail"]) }), output: z.object({ by: z.string() }) });
type Weather = EndpointContract<"weather", { city: string }, { celsius: number }>;

type Client = StrataClient<typeof scores | typeof flaky | Weather>;
const client = (): Client => createClient<typeof scores | typeof flaky | Weather>({ url: "http://127.0.0.1:1", apiKey: "k" });

describe("createClient types", () => {
  it("types inputs and outputs by endpoint name", () => {
    expectTypeOf(scores.name).toEqualTypeOf<"scores">();
    expectTypeOf(flaky.name).toEqualTypeOf<"flaky">();
    const typed = async (c: Client) => {
      const out = await c.call("scores", { customerId: "c1" }); // detail has a default: may be left out
      expectTypeOf(out).toEqualTypeOf<{ customerId: string; clv: number; batch: number }>();
      expectTypeOf(await c.call("flaky", { mode: "ok" }, { implementation: "primary" })).toEqualTypeOf<{ by: string }>();
      expectTypeOf(await c.call("weather", { city: "Lyon" })).toEqualTypeOf<{ celsius: number }>();
    };
    expectTypeOf(typed).toBeFunction();
    expectTypeOf<Parameters<Client["call"]>[0]>().toEqualTypeOf<"scores" | "flaky" | "weather">();
  });

  it("rejects unknown endpoints and wrong inputs", () => {
    const wrong = async (c: Client) => {
      // @ts-expect-error: no endpoint "score"
      await c.call("score", { customerId: "c1" });
      // @ts-expect-error: customerId is missing
      await c.call("scores", { detail: "full" });
      // @ts-expect-error: an unknown field
      await c.call("scores", { customerId: "c1", extra: 1 });
      // @ts-expect-error: detail is an enum
      await c.call("scores", { customerId: "c1", detail: "long" });
      // @ts-expect-error: the input of another endpoint
      await c.call("flaky", { customerId: "c1" });
      // @ts-expect-error: a wrong input in a batch
      await c.batch("flaky", [{ mode: "ok" }, { mode: "sometimes" }]);
      // @ts-expect-error: no implementation option named so
      await c.call("flaky", { mode: "ok" }, { impl: "primary" });
    };
    expectTypeOf(wrong).toBeFunction();
  });

  it("types invoke, batch and errors", () => {
    const answers = async (c: Client) => {
      const answer = await c.invoke("flaky", { mode: "slow" });
      expectTypeOf(answer.output).toEqualTypeOf<{ by: string }>();
      expectTypeOf(answer.implementation).toEqualTypeOf<string>();
      expectTypeOf(answer.fallbackFrom).toEqualTypeOf<string | undefined>();

      const items = await c.batch("scores", [{ customerId: "c1" }, { customerId: "c2", detail: "full" }]);
      expectTypeOf(items).toEqualTypeOf<BatchItem<{ customerId: string; clv: number; batch: number }>[]>();
      const [first] = items;
      if (first?.ok) expectTypeOf(first.output.clv).toEqualTypeOf<number>();
      else if (first) {
        expectTypeOf(first.error).toEqualTypeOf<StrataClientError>();
        expectTypeOf(first.error.code).toExtend<string>();
        expectTypeOf(first.error.retryable).toEqualTypeOf<boolean>();
      }
    };
    expectTypeOf(answers).toBeFunction();
  });

  it("takes any name and input when untyped", () => {
    const untyped = async () => {
      const c = createClient({ url: "http://127.0.0.1:1", apiKey: "k" });
      expectTypeOf(await c.call("anything", { at: "all" })).toEqualTypeOf<unknown>();
    };
    expectTypeOf(untyped).toBeFunction();
    expectTypeOf(client).returns.toHaveProperty("endpoints");
  });
});
