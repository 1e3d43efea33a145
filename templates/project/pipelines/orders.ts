import { pipeline, sql, step, z } from "strata";

/**
 * A first pipeline: read a CSV with SQL, aggregate it inside DuckDB, then summarize in TypeScript.
 * Run it:   npx strata run orders --param minAmount=20
 * See it:   npx strata pipelines     npx strata runs list
 */
export default pipeline(
  "orders",
  {
    description: "Revenue per customer from data/orders.csv",
    params: z.object({
      minAmount: z.number().min(0).default(0),
      file: z.string().default("data/orders.csv"),
    }),
  },
  ({ params }) => {
    // SQL runs inside the embedded DuckDB; ${params.x} is bound as a value, never pasted into the text.
    const orders = step(
      "orders",
      sql`select customer, cast(amount as double) as amount from read_csv(${params.file}, header = true) where amount >= ${params.minAmount}`,
    );

    const revenue = step(
      "revenue",
      { inputs: { orders } },
      sql`select customer, count(*) as orders, round(sum(amount), 2) as revenue from ${"orders"} group by customer order by revenue desc`,
    );

    // A TypeScript step: typed inputs, retries with backoff, a time budget and a logger.
    step("summary", { inputs: { revenue }, retries: 2, timeoutMs: 30_000 }, async ({ revenue }, ctx) => {
      const rows = await revenue.rows();
      const total = rows.reduce((sum, r) => sum + Number(r.revenue), 0);
      ctx.log.info({ customers: rows.length, total }, "revenue summarized");
      return { customers: rows.length, total: Math.round(total * 100) / 100, top: rows[0]?.customer ?? null };
    });
  },
);
