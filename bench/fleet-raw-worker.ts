// The baseline's worker process for bench/fleet.ts: a BullMQ worker whose jobs do nothing.
//   npx tsx bench/fleet-raw-worker.ts <redis url> <prefix> <concurrency>
import { Worker } from "bullmq";
import { Redis } from "ioredis";

const [url, prefix, concurrency] = process.argv.slice(2);
const worker = new Worker("raw", async () => ({ ok: true }), {
  connection: new Redis(url!, { maxRetriesPerRequest: null }),
  prefix: prefix!,
  concurrency: Number(concurrency),
});
await worker.waitUntilReady();
process.stdout.write("ready\n");
process.on("SIGTERM", () => void worker.close().then(() => process.exit(0)));
