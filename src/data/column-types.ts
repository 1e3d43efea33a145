/**
 * Column types of a dataset schema. A schema is authored once with `t` and compiled for each use:
 * SQL column types per engine, record checks at ingestion, JSON Schema for the API.
 */
export type ColumnKind = "string" | "int" | "bigint" | "double" | "decimal" | "bool" | "date" | "timestamp" | "json";

export interface ColumnSpec {
  readonly kind: ColumnKind;
  readonly nullable: boolean;
  /** For dates and timestamps read from text: a strptime format such as "%Y%m%d". */
  readonly format?: string;
  readonly precision?: number;
  readonly scale?: number;
  readonly min?: number;
  readonly max?: number;
  readonly oneOf?: readonly (string | number)[];
  readonly pattern?: string;
  readonly maxLength?: number;
  readonly minLength?: number;
  /** JSON sources: where the value is in a nested object ("customer.id"); the column's name by default. */
  readonly path?: string;
}

/** A column under construction; every modifier returns a new column (schemas are immutable). */
export class Column<T> {
  declare readonly __type?: T;
  constructor(readonly spec: ColumnSpec) {}

  #with(extra: Partial<ColumnSpec>): this {
    return new Column({ ...this.spec, ...extra }) as this;
  }

  nullable(): Column<T | null> {
    return new Column<T | null>({ ...this.spec, nullable: true });
  }
  min(value: number): this {
    return this.#with({ min: value });
  }
  max(value: number): this {
    return this.#with({ max: value });
  }
  oneOf(values: readonly (string | number)[]): this {
    return this.#with({ oneOf: values });
  }
  pattern(regex: RegExp | string): this {
    return this.#with({ pattern: typeof regex === "string" ? regex : regex.source });
  }
  maxLength(length: number): this {
    return this.#with({ maxLength: length });
  }
  minLength(length: number): this {
    return this.#with({ minLength: length });
  }
  /** In JSON lines: read the value from a nested object, `t.string().path("customer.id")`. */
  path(dotted: string): this {
    return this.#with({ path: dotted });
  }
}

const col = <T>(kind: ColumnKind, extra: Partial<ColumnSpec> = {}): Column<T> => new Column<T>({ kind, nullable: false, ...extra });

/** Column types: `t.string()`, `t.int().min(0)`, `t.date("%Y%m%d")`, `t.double().nullable()`... */
export const t = {
  string: () => col<string>("string"),
  int: () => col<number>("int"),
  bigint: () => col<bigint>("bigint"),
  double: () => col<number>("double"),
  decimal: (precision = 18, scale = 2) => col<number>("decimal", { precision, scale }),
  bool: () => col<boolean>("bool"),
  date: (format?: string) => col<Date>("date", format ? { format } : {}),
  timestamp: (format?: string) => col<Date>("timestamp", format ? { format } : {}),
  json: () => col<unknown>("json"),
};

export type Schema = Readonly<Record<string, Column<unknown>>>;

/** The row type a schema describes. */
export type RowOf<S extends Schema> = { -readonly [K in keyof S]: S[K] extends Column<infer T> ? T : never };
