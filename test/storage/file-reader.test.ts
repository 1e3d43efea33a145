import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { DuckDBInstance } from "@duckdb/node-api";
import { describe, expect, it } from "vitest";
import { t, type Column } from "../../src/data/column-types.js";
import { DuckDbTableEngine } from "../../src/storage/duckdb/table-engine.js";
import { findRejects, readFiles } from "../../src/storage/files/file-reader.js";
import type { CsvOptions, FileFormat, FileSource } from "../../src/storage/files/file-source.js";
import { rejection } from "../helpers/errors.js";
import { closeEachTest, tempDirEachTest } from "../helpers/resources.js";

const tempDir = tempDirEachTest("strata-files-");
const engines = closeEachTest<DuckDbTableEngine>();
const open = async (): Promise<DuckDbTableEngine> => engines.track(await DuckDbTableEngine.open(":memory:"));

const target = { schema: "lake", table: "raw_tx" };
const signal = (): AbortSignal => new AbortController().signal;

/** Writes a file under the temp folder (creating sub-folders) and returns its path. */
function write(name: string, content: string | Buffer): string {
  const path = join(tempDir(), name);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, content);
  return path;
}

function source(path: string, schema: Record<string, Column<unknown>>, format: FileFormat = "csv", csv?: CsvOptions): FileSource {
  return {
    storage: "lake",
    dataset: "raw_tx",
    folder: tempDir(),
    path,
    format,
    ...(csv ? { csv } : {}),
    schema: Object.fromEntries(Object.entries(schema).map(([name, column]) => [name, column.spec])),
  };
}

async function read(src: FileSource): Promise<{ rows: Record<string, unknown>[]; files: string[]; count: number }> {
  const engine = await open();
  const result = await readFiles(engine, src, target, signal());
  const rows = await engine.readRows(target);
  expect(await engine.count(target)).toBe(result.rows);
  return { rows, files: result.files, count: result.rows };
}

const fail = async (src: FileSource) => rejection(readFiles(await open(), src, target, signal()));

const tx = { id: t.int(), name: t.string(), amount: t.double() };
const day = (iso: string): Date => new Date(`${iso}T00:00:00.000Z`);

async function writeParquet(name: string, select: string): Promise<string> {
  const path = join(tempDir(), name);
  mkdirSync(dirname(path), { recursive: true });
  // A connection of our own: the engine's createTableAs wraps every query in CREATE TABLE AS.
  const instance = await DuckDBInstance.create(":memory:");
  const connection = await instance.connect();
  try {
    await connection.run(`copy (${select}) to '${path.replace(/'/g, "''")}' (format parquet)`);
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
  return path;
}

describe("readFiles: CSV", () => {
  it("reads a file with a header, columns matched by name in any order", async () => {
    write("tx.csv", "amount,id,name\n12.5,1,ann\n3,2,bob\n");
    const { rows, files, count } = await read(source("tx.csv", tx, "csv", { header: true }));
    expect(count).toBe(2);
    expect(files).toEqual(["tx.csv"]);
    expect(rows).toEqual([
      { id: 1, name: "ann", amount: 12.5 },
      { id: 2, name: "bob", amount: 3 },
    ]);
  });

  it("reads a file without a header: columns in schema order", async () => {
    write("tx.csv", "1,ann,12.5\n2,bob,3\n");
    const { rows } = await read(source("tx.csv", tx));
    expect(rows).toEqual([
      { id: 1, name: "ann", amount: 12.5 },
      { id: 2, name: "bob", amount: 3 },
    ]);
  });

  it.each([
    [";", "crlf", "\r\n"],
    ["\t", "lf", "\n"],
    ["|", "crlf", "\r\n"],
    ["::", "lf", "\n"],
  ])("reads delimiter %j with %s line ends", async (delimiter, _name, eol) => {
    write(
      "tx.csv",
      ["id", "name", "amount"].join(delimiter) + eol + ["1", "ann", "12.5"].join(delimiter) + eol + ["2", "bob", "3"].join(delimiter) + eol,
    );
    const { rows } = await read(source("tx.csv", tx, "csv", { header: true, delimiter }));
    expect(rows).toEqual([
      { id: 1, name: "ann", amount: 12.5 },
      { id: 2, name: "bob", amount: 3 },
    ]);
  });

  it("reads quoted fields with delimiters, doubled quotes and line breaks inside", async () => {
    write("tx.csv", 'id,name,amount\n1,"Smith, Ann",1\n2,"say ""hi""",2\n3,"two\nlines",3\n4,\'single\',4\n');
    const { rows } = await read(source("tx.csv", tx, "csv", { header: true }));
    expect(rows.map((r) => r.name)).toEqual(["Smith, Ann", 'say "hi"', "two\nlines", "'single'"]);
  });

  it("takes another quote character, or none", async () => {
    write("a.csv", "id,name,amount\n1,'Smith, Ann',1\n");
    expect((await read(source("a.csv", tx, "csv", { header: true, quote: "'" }))).rows[0]?.name).toBe("Smith, Ann");
    write("b.csv", 'id,name,amount\n1,"ann,1\n');
    expect((await read(source("b.csv", tx, "csv", { header: true, quote: "" }))).rows[0]?.name).toBe('"ann');
  });

  it("drops a byte order mark at the start", async () => {
    write("tx.csv", "\uFEFFid,name,amount\r\n1,ann,2\r\n");
    expect((await read(source("tx.csv", tx, "csv", { header: true }))).rows).toEqual([{ id: 1, name: "ann", amount: 2 }]);
    write("nh.csv", "\uFEFF1,ann,2\n");
    expect((await read(source("nh.csv", tx))).rows).toEqual([{ id: 1, name: "ann", amount: 2 }]);
  });

  it("reads an empty file, and a header alone, as no rows with the schema's columns", async () => {
    write("empty.csv", "");
    write("header-only.csv", "id,name,amount\n");
    for (const [path, csv] of [
      ["empty.csv", { header: true }],
      ["empty.csv", {}],
      ["header-only.csv", { header: true }],
    ] as const) {
      const engine = await open();
      expect(await readFiles(engine, source(path, tx, "csv", csv), target, signal())).toEqual({ rows: 0, files: [path] });
      const types = await engine.readRows({ schema: "information_schema", table: "columns" });
      expect(types.filter((c) => c.table_name === "raw_tx").map((c) => [c.column_name, c.data_type])).toEqual([
        ["id", "INTEGER"],
        ["name", "VARCHAR"],
        ["amount", "DOUBLE"],
      ]);
    }
  });

  it("skips lines before the header, and blank lines", async () => {
    write("tx.csv", "exported 2026-01-01\n\nid,name,amount\n1,ann,2\n\n\n2,bob,3\n\n");
    expect((await read(source("tx.csv", tx, "csv", { header: true, skip: 2 }))).rows).toEqual([
      { id: 1, name: "ann", amount: 2 },
      { id: 2, name: "bob", amount: 3 },
    ]);
  });

  it("reads a glob of files, each with its own column order, and says which files it read", async () => {
    write("in/2026-01.csv", "id,name,amount\n1,ann,1\n2,bob,2\n");
    write("in/2026-02.csv", "name,amount,id\ncid,3,3\n");
    write("in/2026-03.csv", "amount,name,id\r\n4,dan,4\r\n");
    write("in/notes.txt", "not matched");
    const { rows, files } = await read(source("in/*.csv", tx, "csv", { header: true }));
    expect(files).toEqual(["in/2026-01.csv", "in/2026-02.csv", "in/2026-03.csv"]);
    expect(rows.map((r) => r.id).sort()).toEqual([1, 2, 3, 4]);
    expect(rows.find((r) => r.id === 3)).toEqual({ id: 3, name: "cid", amount: 3 });
  });

  it("reads a recursive glob with an empty file in it", async () => {
    write("a/x.csv", "1,ann,1\n");
    write("a/b/y.csv", "");
    write("a/b/c/z.csv", "2,bob,2\n");
    const { rows, files } = await read(source("a/**/*.csv", tx));
    expect(files).toEqual(["a/b/c/z.csv", "a/b/y.csv", "a/x.csv"]);
    expect(rows.map((r) => r.id).sort()).toEqual([1, 2]);
  });
});

describe("readFiles: whitespace-separated", () => {
  it("splits on runs of spaces and tabs, ignoring leading and trailing ones and blank lines", async () => {
    write("tx.txt", "  1   ann\t 12.5  \r\n\r\n2 bob 3\r\n   \r\n\t3\tcid\t4\r\n");
    const { rows } = await read(source("tx.txt", tx, "csv", { whitespace: true }));
    expect(rows).toEqual([
      { id: 1, name: "ann", amount: 12.5 },
      { id: 2, name: "bob", amount: 3 },
      { id: 3, name: "cid", amount: 4 },
    ]);
  });

  it("matches a header by name", async () => {
    write("tx.txt", " amount   id name\n 1.5 7 ann\n");
    expect((await read(source("tx.txt", tx, "csv", { whitespace: true, header: true }))).rows).toEqual([
      { id: 7, name: "ann", amount: 1.5 },
    ]);
  });

  it("reads 50 lines of the real CDNOW log", async () => {
    const lines = readFileSync(join(import.meta.dirname, "../../examples/cltv/data/CDNOW_master.txt"), "latin1")
      .split("\n")
      .slice(0, 51);
    write("cdnow/CDNOW_master.txt", lines.join("\n"));
    const cdnow = { customer_id: t.string(), date: t.date("%Y%m%d"), cds: t.int(), amount: t.double() };
    const { rows, count } = await read(source("cdnow/*.txt", cdnow, "csv", { whitespace: true, skip: 1 }));
    expect(count).toBe(50);
    expect(rows[0]).toEqual({ customer_id: "00001", date: day("1997-01-01"), cds: 1, amount: 11.77 });
    expect(rows[2]).toEqual({ customer_id: "00002", date: day("1997-01-12"), cds: 5, amount: 77 });
    expect(rows.filter((r) => r.customer_id === "00003")).toHaveLength(6);
    expect(rows.reduce((sum, r) => sum + (r.cds as number), 0)).toBe(
      lines
        .slice(1)
        .map((l) => Number(l.trim().split(/\s+/)[2]))
        .reduce((a, b) => a + b, 0),
    );

    // Its header names other columns: with header: true the mismatch is named.
    const error = await fail(source("cdnow/*.txt", cdnow, "csv", { whitespace: true, header: true }));
    expect(error.code).toBe("INGEST_PARSE_FAILED");
    expect(error.message).toBe(
      'storage "lake", dataset "raw_tx": cdnow/CDNOW_master.txt line 1: the header does not match the schema: ' +
        'missing columns "cds", "amount"; unexpected columns "number_of_cds", "dollar_value"',
    );
  });

  it("rejects a line with too few or too many values, naming the exact line", async () => {
    write("tx.txt", "1 ann 1\n\n2 bob\n");
    const error = await fail(source("tx.txt", tx, "csv", { whitespace: true }));
    expect(error.code).toBe("INGEST_PARSE_FAILED");
    expect(error.message).toBe('storage "lake", dataset "raw_tx": tx.txt line 3: 2 values, expected 3');
    expect(error.details).toMatchObject({ file: "tx.txt", line: 3 });
  });
});

describe("readFiles: JSON lines and Parquet", () => {
  it("reads JSON lines: keys by name, nested values into json columns, nulls and missing keys", async () => {
    write(
      "ev.jsonl",
      [
        '{"id": 1, "name": "ann", "amount": 12.5, "tags": {"a": [1, 2]}, "ok": true}',
        "",
        '{"id": "2", "name": "bob", "amount": 3, "tags": null, "extra": 1}',
        '{"name": "cid", "id": 3, "amount": "4.25", "tags": [1], "ok": false}',
      ].join("\r\n"),
    );
    const schema = { ...tx, tags: t.json().nullable(), ok: t.bool().nullable() };
    const { rows } = await read({ ...source("ev.jsonl", schema, "jsonl"), unknownFields: "drop" });
    expect(rows).toEqual([
      { id: 1, name: "ann", amount: 12.5, tags: { a: [1, 2] }, ok: true },
      { id: 2, name: "bob", amount: 3, tags: null, ok: null },
      { id: 3, name: "cid", amount: 4.25, tags: [1], ok: false },
    ]);
  });

  it("rejects a line that is not JSON, or not an object, by its line", async () => {
    write("ev.jsonl", '{"id": 1, "name": "a", "amount": 1}\n\n{"id": 2, "name": "b", "amount": 2\n');
    const error = await fail(source("ev.jsonl", tx, "jsonl"));
    expect(error.code).toBe("INGEST_PARSE_FAILED");
    expect(error.message).toBe('storage "lake", dataset "raw_tx": ev.jsonl line 3: not valid JSON');
    write("arr.jsonl", '[1, "a", 1]\n');
    expect((await fail(source("arr.jsonl", tx, "jsonl"))).message).toContain("arr.jsonl line 1: not a JSON object");
  });

  it("reads Parquet files with columns in any order, casting their types, a date format only for text", async () => {
    await writePar();
    const schema = { id: t.bigint(), name: t.string(), amount: t.decimal(10, 2), day: t.date("%Y%m%d"), at: t.timestamp() };
    const { rows, files } = await read(source("pq/*.parquet", schema, "parquet"));
    expect(files).toEqual(["pq/a.parquet", "pq/b.parquet"]);
    expect(rows).toEqual([
      { id: 1, name: "ann", amount: 12.5, day: day("2026-01-02"), at: new Date("2026-01-02T10:00:00.000Z") },
      { id: 2, name: "bob", amount: 3.25, day: day("2026-02-03"), at: new Date("2026-02-03T11:30:00.000Z") },
    ]);

    async function writePar(): Promise<void> {
      await writeParquet(
        "pq/a.parquet",
        "select 1 as id, 'ann' as name, 12.5 as amount, '20260102' as day, timestamp '2026-01-02 10:00:00' as at",
      );
      await writeParquet(
        "pq/b.parquet",
        "select '20260203' as day, 'bob' as name, 2::int as id, 3.25::double as amount, '2026-02-03 11:30:00' as at",
      );
    }
  });

  it("names a Parquet file whose columns are not the schema's, or that is not Parquet", async () => {
    await writeParquet("pq/a.parquet", "select 1 as id, 'ann' as name");
    const error = await fail(source("pq/a.parquet", tx, "parquet"));
    expect(error.code).toBe("INGEST_PARSE_FAILED");
    expect(error.message).toBe(
      'storage "lake", dataset "raw_tx": pq/a.parquet: its columns do not match the schema: missing column "amount"',
    );
    write("pq/b.parquet", "id,name,amount\n1,a,1\n");
    const notParquet = await fail(source("pq/b.parquet", tx, "parquet"));
    expect(notParquet.code).toBe("INGEST_PARSE_FAILED");
    expect(notParquet.message).toMatch(/^storage "lake", dataset "raw_tx": pq\/b\.parquet: cannot read it as Parquet: .*magic bytes/);
    expect(notParquet.details).toMatchObject({ file: "pq/b.parquet" });
  });

  it("names the Parquet row of a value that does not coerce", async () => {
    await writeParquet(
      "p.parquet",
      "select range::int as id, 'n' || range as name, case when range = 4 then 'x' else '1' end as amount from range(6)",
    );
    const error = await fail(source("p.parquet", tx, "parquet"));
    expect(error.code).toBe("INGEST_COERCION_FAILED");
    expect(error.message).toBe('storage "lake", dataset "raw_tx": p.parquet row 5, column "amount": "x" is not a double');
  });
});

describe("readFiles: types", () => {
  it("coerces dates and timestamps with and without a format, decimals, bools and json", async () => {
    write(
      "t.csv",
      [
        "d1|d2|ts1|ts2|dec|flag|doc|n",
        '2026-01-31|20260131|2026-01-31 10:11:12|31/01/2026 10h11|1234.5|true|"{""a"": 1}"|',
        "2026-02-01|20260201|2026-02-01T00:00:00|01/02/2026 00h00|-0.25|f|[1,2]|7",
        '2026-02-02|20260202|2026-02-02|02/02/2026 23h59|3|1|"""s"""|',
      ].join("\n"),
    );
    const schema = {
      d1: t.date(),
      d2: t.date("%Y%m%d"),
      ts1: t.timestamp(),
      ts2: t.timestamp("%d/%m/%Y %Hh%M"),
      dec: t.decimal(8, 2),
      flag: t.bool(),
      doc: t.json(),
      n: t.bigint().nullable(),
    };
    const { rows } = await read(source("t.csv", schema, "csv", { header: true, delimiter: "|" }));
    expect(rows).toEqual([
      {
        d1: day("2026-01-31"),
        d2: day("2026-01-31"),
        ts1: new Date("2026-01-31T10:11:12Z"),
        ts2: new Date("2026-01-31T10:11:00Z"),
        dec: 1234.5,
        flag: true,
        doc: { a: 1 },
        n: null,
      },
      {
        d1: day("2026-02-01"),
        d2: day("2026-02-01"),
        ts1: new Date("2026-02-01T00:00:00Z"),
        ts2: new Date("2026-02-01T00:00:00Z"),
        dec: -0.25,
        flag: false,
        doc: [1, 2],
        n: 7,
      },
      {
        d1: day("2026-02-02"),
        d2: day("2026-02-02"),
        ts1: new Date("2026-02-02T00:00:00Z"),
        ts2: new Date("2026-02-02T23:59:00Z"),
        dec: 3,
        flag: true,
        doc: "s",
        n: null,
      },
    ]);
  });

  it("keeps empty values of nullable columns as null, and an empty string column as null", async () => {
    write("n.csv", 'id,name,amount\n1,,\n2,"",5\n');
    const { rows } = await read(
      source("n.csv", { id: t.int(), name: t.string().nullable(), amount: t.double().nullable() }, "csv", { header: true }),
    );
    expect(rows).toEqual([
      { id: 1, name: null, amount: null },
      { id: 2, name: null, amount: 5 },
    ]);
  });
});

describe("readFiles: bad input", () => {
  it("names the storage, the dataset and the absolute path when no file matches", async () => {
    const error = await fail(source("in/*.csv", tx));
    expect(error.code).toBe("INGEST_FILE_NOT_FOUND");
    expect(error.message).toBe(`storage "lake", dataset "raw_tx": no file matches ${join(tempDir(), "in/*.csv")}`);
    expect(error.details).toMatchObject({ storage: "lake", dataset: "raw_tx", path: join(tempDir(), "in/*.csv") });

    const missingFolder = { ...source("tx.csv", tx), folder: join(tempDir(), "nope") };
    const noFolder = await fail(missingFolder);
    expect(noFolder.code).toBe("INGEST_FILE_NOT_FOUND");
    expect(noFolder.message).toContain(`(the storage's folder ${join(tempDir(), "nope")} does not exist)`);
  });

  it("refuses a path that leaves the storage's folder", async () => {
    for (const path of ["../secret.csv", "/etc/passwd", "a/../../b.csv"]) {
      const error = await fail(source(path, tx));
      expect(error.code).toBe("DATASET_INVALID");
      expect(error.message).toContain("must stay inside the storage's folder");
    }
  });

  it("names file, line, column and value of a value that does not coerce", async () => {
    write("tx.csv", "id,name,amount\n1,a,1\n2,b,2\n3,c,3\n4,d,4\n5,e,5\n6,f,twelve\n7,g,thirteen\n");
    const error = await fail(source("tx.csv", tx, "csv", { header: true }));
    expect(error.code).toBe("INGEST_COERCION_FAILED");
    expect(error.message).toBe('storage "lake", dataset "raw_tx": tx.csv line 7, column "amount": "twelve" is not a double');
    expect(error.details).toMatchObject({
      storage: "lake",
      dataset: "raw_tx",
      file: "tx.csv",
      line: 7,
      column: "amount",
      value: "twelve",
      reason: "TYPE_MISMATCH",
      reasons: [{ code: "TYPE_MISMATCH", column: "amount", value: "twelve", message: 'column "amount": "twelve" is not a double' }],
    });
  });

  it("counts physical lines: skipped lines, blank lines and quoted line breaks do not shift them", async () => {
    write("tx.csv", 'junk\nid,name,amount\n\n1,"multi\nline",1\n\n2,"say ""x""",2\n3,c,oops\n');
    const error = await fail(source("tx.csv", tx, "csv", { header: true, skip: 1 }));
    expect(error.message).toBe('storage "lake", dataset "raw_tx": tx.csv line 8, column "amount": "oops" is not a double');
  });

  it("names the file of a glob and the line within it", async () => {
    write("in/a.csv", "1,a,1\n2,b,2\n");
    write("in/b.csv", "3,c,3\n");
    write("in/c.csv", "4,d,4\n5,e,5\n6,f,x6\n");
    const error = await fail(source("in/*.csv", tx));
    expect(error.message).toBe('storage "lake", dataset "raw_tx": in/c.csv line 3, column "amount": "x6" is not a double');
  });

  it("rejects an empty value in a not-null column", async () => {
    write("tx.csv", "id,name,amount\n1,a,1\n2,,2\n");
    const error = await fail(source("tx.csv", tx, "csv", { header: true }));
    expect(error.code).toBe("INGEST_COERCION_FAILED");
    expect(error.message).toBe(
      'storage "lake", dataset "raw_tx": tx.csv line 3, column "name": the value is missing and the column is not nullable',
    );
    expect(error.details).toMatchObject({ line: 3, column: "name", value: null, reason: "MISSING_VALUE" });
  });

  it.each([
    ["12.5", "an int"],
    ["1e3", "an int"],
    ["99999999999", "an int"],
    ["x", "an int"],
  ])("rejects %j in an int column", async (bad, expected) => {
    write("tx.csv", `id,name,amount\n${bad},a,1\n`);
    const error = await fail(source("tx.csv", tx, "csv", { header: true }));
    expect(error.code).toBe("INGEST_COERCION_FAILED");
    expect(error.message).toContain(`line 2, column "id": ${JSON.stringify(bad)} is not ${expected}`);
  });

  it.each([
    ["d", t.date("%Y%m%d"), "1997-01-01", 'is not a date in the format "%Y%m%d"'],
    ["d", t.date(), "01/02/2026", "is not a date (YYYY-MM-DD)"],
    ["d", t.timestamp(), "yesterday", "is not a timestamp"],
    ["d", t.bool(), "maybe", "is not a bool"],
    ["d", t.json(), "{oops", "is not valid JSON"],
    ["d", t.decimal(4, 2), "123.45", "is not a decimal(4, 2)"],
  ])("rejects a bad %s (%#)", async (name, column, bad, says) => {
    write("v.csv", `${bad}\n`);
    const error = await fail(source("v.csv", { [name]: column }));
    expect(error.code).toBe("INGEST_COERCION_FAILED");
    expect(error.message).toContain(`v.csv line 1, column "d": ${JSON.stringify(bad)} ${says}`);
  });

  it("names the file and line of a line with the wrong number of fields", async () => {
    write("tx.csv", "id,name,amount\n1,a,1\n\n2,b,2,extra\n");
    const error = await fail(source("tx.csv", tx, "csv", { header: true }));
    expect(error.code).toBe("INGEST_PARSE_FAILED");
    expect(error.message).toBe(
      'storage "lake", dataset "raw_tx": tx.csv line 4: cannot read it as CSV: Expected Number of Columns: 3 Found: 4',
    );
    expect(error.details).toMatchObject({ storage: "lake", dataset: "raw_tx", file: "tx.csv", line: 4 });
  });

  it("names the file and line of an unterminated quote, and the file of a glob", async () => {
    write("in/a.csv", "1,a,1\n");
    write("in/b.csv", '2,b,2\n3,"c,3\n');
    const error = await fail(source("in/*.csv", tx));
    expect(error.code).toBe("INGEST_PARSE_FAILED");
    expect(error.message).toContain('storage "lake", dataset "raw_tx": in/b.csv line 2: cannot read it as CSV: ');
    expect(error.message).toContain("unterminated quote");
  });

  it("names the file and line of text that is not UTF-8, and reads it with its encoding", async () => {
    write("in/a.csv", "1,ann,1\n");
    write("in/b.csv", Buffer.concat([Buffer.from("2,bob,2\n3,caf"), Buffer.from([0xe9]), Buffer.from(",3\n")]));
    const error = await fail(source("in/*.csv", tx));
    expect(error.code).toBe("INGEST_PARSE_FAILED");
    expect(error.message).toContain('storage "lake", dataset "raw_tx": in/b.csv line 2: cannot read it as CSV: Invalid unicode');
    expect(error.details).toMatchObject({ file: "in/b.csv", line: 2 });
    const { rows } = await read(source("in/*.csv", tx, "csv", { encoding: "latin-1" }));
    expect(rows.map((r) => r.name)).toEqual(["ann", "bob", "café"]);
  });

  it("counts skipped and blank lines in the line of a parse error", async () => {
    write("tx.csv", "junk\n\nid,name,amount\n1,a,1\n\n3,c,3,extra\n");
    const error = await fail(source("tx.csv", tx, "csv", { header: true, skip: 2 }));
    expect(error.message).toContain("tx.csv line 6: cannot read it as CSV");
  });

  it("names a file read with the wrong delimiter", async () => {
    write("tx.csv", "1;a;1\n");
    const error = await fail(source("tx.csv", tx));
    expect(error.code).toBe("INGEST_PARSE_FAILED");
    expect(error.message).toContain("tx.csv line 1: cannot read it as CSV: Expected Number of Columns: 3 Found: 1");
  });

  it("names the missing and unexpected columns of a header, and the file", async () => {
    write("in/a.csv", "id,name,amount\n1,a,1\n");
    write("in/b.csv", "id,Name,amt,amount,id\n1,a,1,1,1\n");
    const error = await fail(source("in/*.csv", tx, "csv", { header: true }));
    expect(error.code).toBe("INGEST_PARSE_FAILED");
    expect(error.message).toBe(
      'storage "lake", dataset "raw_tx": in/b.csv line 1: the header does not match the schema: ' +
        'missing column "name"; unexpected columns "Name", "amt"; duplicate column "id"',
    );
    expect(error.details).toMatchObject({ file: "in/b.csv", line: 1 });
  });

  it("finds every failure in file and line order, for quarantine", async () => {
    write("a.csv", "id,name,amount\nx,a,1\n2,,y\n3,c,3\n");
    write("b.jsonl", '{"id": 1, "name": "a", "amount": 1}\nnope\n{"id": 2.5, "amount": "z"}\n');
    const engine = await open();
    const scratch = { schema: "lake", table: "probe" };
    const codes = (records: Awaited<ReturnType<typeof findRejects>>) =>
      records.map((r) => ({ file: r.file, line: r.line, reasons: r.reasons.map((x) => [x.code, x.column, x.value ?? null]) }));
    expect(codes(await findRejects(engine, source("a.csv", tx, "csv", { header: true }), { limit: 10, scratch }))).toEqual([
      { file: "a.csv", line: 2, reasons: [["TYPE_MISMATCH", "id", "x"]] },
      {
        file: "a.csv",
        line: 3,
        reasons: [
          ["MISSING_VALUE", "name", null],
          ["TYPE_MISMATCH", "amount", "y"],
        ],
      },
    ]);
    const json = await findRejects(engine, source("b.jsonl", tx, "jsonl"), { limit: 10, scratch });
    expect(codes(json)).toEqual([
      { file: "b.jsonl", line: 2, reasons: [["MALFORMED_RECORD", null, null]] },
      {
        file: "b.jsonl",
        line: 3,
        reasons: [
          ["TYPE_MISMATCH", "id", "2.5"],
          ["MISSING_VALUE", "name", null],
          ["TYPE_MISMATCH", "amount", "z"],
        ],
      },
    ]);
    expect(json[0]).toMatchObject({ raw: "nope", values: null });
    expect(json[1]?.values).toEqual({ id: "2.5", name: null, amount: "z" });
    expect(json[1]?.reasons[0]?.message).toBe('column "id": "2.5" is not an int (a whole number of 32 bits)');
    expect(await findRejects(engine, source("a.csv", tx, "csv", { header: true }), { limit: 1, scratch })).toHaveLength(1);
  });

  it("stops when its signal is aborted", async () => {
    write("tx.csv", "1,a,1\n");
    const controller = new AbortController();
    controller.abort();
    await expect(readFiles(await open(), source("tx.csv", tx), target, controller.signal)).rejects.toThrow();
  });
});
