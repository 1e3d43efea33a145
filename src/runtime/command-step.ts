import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Logger } from "pino";
import { rowsAsBatches, writeRowsFile } from "../data/file-export.js";
import { StrataError } from "../errors/strata-error.js";
import type { CommandSpec } from "../pipeline/command.js";
import type { StepDefinition } from "../pipeline/step.js";
import type { RunScope } from "./step-executor.js";
import { TableHandle } from "./table-handle.js";

const envName = (name: string): string => name.replace(/[^A-Za-z0-9]/g, "_").toUpperCase();

/** Writes one input where the program can read it; returns the file's path. */
async function exportInput(dir: string, key: string, value: unknown, format: "csv" | "jsonl"): Promise<string> {
  if (value instanceof TableHandle) {
    const path = join(dir, `${key}.${format}`);
    await writeRowsFile(path, format, value.engine.batches(value.table, 10_000));
    return path;
  }
  if (Array.isArray(value) && value.every((r) => r !== null && typeof r === "object" && !Array.isArray(r))) {
    const path = join(dir, `${key}.${format}`);
    await writeRowsFile(path, format, rowsAsBatches(value as Record<string, unknown>[]));
    return path;
  }
  const path = join(dir, `${key}.json`);
  writeFileSync(
    path,
    JSON.stringify(value ?? null, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v)),
  );
  return path;
}

/**
 * Runs a `command` step: exports its inputs as files, runs the program with STRATA_* variables,
 * streams its stdout and stderr into the step's log, then reads the output file back, coerced to
 * the declared schema (so a program cannot hand on a wrong column unnoticed).
 */
export async function runCommandStep(
  scope: RunScope,
  step: StepDefinition,
  spec: CommandSpec,
  inputs: Record<string, unknown>,
  log: Logger,
  signal: AbortSignal,
): Promise<unknown> {
  const dir = mkdtempSync(join(tmpdir(), `strata-${step.name}-`));
  try {
    const env: Record<string, string> = {
      ...(process.env as Record<string, string>),
      STRATA_RUN_ID: scope.runId,
      STRATA_STEP: step.name,
      STRATA_PARAMS: JSON.stringify(scope.params),
      STRATA_OUTPUT: join(dir, `output.${spec.exchange}`),
    };
    for (const [name, value] of Object.entries(scope.params))
      env[`STRATA_PARAM_${envName(name)}`] = value instanceof Date ? value.toISOString() : String(value);
    for (const [key, value] of Object.entries(inputs))
      env[`STRATA_INPUT_${envName(key)}`] = await exportInput(dir, key, value, spec.exchange);
    for (const [key, value] of Object.entries(spec.env)) env[key] = value.startsWith("$") ? (env[value.slice(1)] ?? "") : value;

    const [program = "", ...args] = spec.argv;
    const executable = scope.interpreters[program] ?? program;
    const shown = [program, ...args].join(" ");
    await new Promise<void>((resolve, reject) => {
      const child = spawn(executable, args, { env, stdio: ["ignore", "pipe", "pipe"], signal });
      const tail: string[] = [];
      const forward = (stream: "stdout" | "stderr") => (chunk: Buffer) => {
        for (const line of chunk.toString().split("\n")) {
          if (!line.trim()) continue;
          if (stream === "stderr" && tail.push(line) > 5) tail.shift();
          log[stream === "stderr" ? "warn" : "info"]({ stream }, line);
        }
      };
      child.stdout.on("data", forward("stdout"));
      child.stderr.on("data", forward("stderr"));
      child.on("error", (error: NodeJS.ErrnoException) => {
        if (error.name === "AbortError") return reject(signal.reason as Error);
        if (error.code === "ENOENT" || error.code === "EACCES") {
          return reject(
            new StrataError(
              "COMMAND_NOT_FOUND",
              `step "${step.name}": cannot run "${executable}" (${error.code}); install it or set interpreters.${program} in strata.config.ts`,
              {
                details: { step: step.name, program: executable },
              },
            ),
          );
        }
        reject(error);
      });
      child.on("close", (code, killedBy) => {
        if (code === 0) return resolve();
        if (signal.aborted) return reject(signal.reason as Error);
        reject(
          new StrataError(
            "COMMAND_FAILED",
            `step "${step.name}": "${shown}" exited with ${killedBy ?? code}${tail.length ? `: ${tail.join(" | ")}` : ""}`,
            {
              details: { step: step.name, command: shown, exitCode: code },
            },
          ),
        );
      });
    });

    const columns = step.dataset?.columns ?? spec.columns;
    if (!existsSync(env.STRATA_OUTPUT!)) {
      if (columns)
        throw new StrataError("COMMAND_FAILED", `step "${step.name}": "${shown}" wrote no output to $STRATA_OUTPUT`, {
          details: { step: step.name },
        });
      return undefined; // a program run for its side effects
    }
    if (!columns) {
      throw new StrataError(
        "DATASET_INVALID",
        `step "${step.name}": the program wrote output; declare its columns (output: a dataset, or command(..., { schema }))`,
        {
          details: { step: step.name },
        },
      );
    }
    const { readFiles } = await import("../storage/files/file-reader.js");
    const engine = await scope.engine();
    const target = { schema: scope.runId, table: step.output };
    const { rows } = await readFiles(
      engine,
      {
        storage: "(command output)",
        dataset: step.dataset?.name ?? step.output,
        folder: dir,
        path: `output.${spec.exchange}`,
        format: spec.exchange,
        // Our exported inputs have a header line; a program's output is expected to have one too.
        ...(spec.exchange === "csv" ? { csv: { header: true } } : {}),
        schema: columns,
      },
      target,
      signal,
    );
    return new TableHandle(engine, target, rows);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
