import { StrataError } from "../errors/strata-error.js";
import type { Routing } from "./endpoint.js";

const DEFAULT_TIMEOUT_MS = 1000;

/** A type's routing checked against its implementations, ready for the hot path. */
export interface ResolvedRouting {
  /** Implementations with their cumulative weight in [0, 1]; one entry when there is no split. */
  readonly choices: readonly { readonly implementation: string; readonly upTo: number }[];
  readonly sticky: readonly string[] | undefined;
  readonly shadow: string | undefined;
  readonly fallback: string | undefined;
  readonly timeoutMs: number;
}

/** Checks a routing against the implementations found; the messages say what to change in `file`. */
export function resolveRouting(routing: Routing, implementations: readonly string[], file: string): ResolvedRouting {
  const fail = (message: string): never => {
    throw new StrataError("ENDPOINT_INVALID", `${file}: routing: ${message}`, { details: { file, implementations } });
  };
  const known = (name: string, role: string): string =>
    implementations.includes(name)
      ? name
      : fail(`${role} "${name}" is not an implementation (there are: ${implementations.join(", ") || "none"})`);
  let choices: { implementation: string; upTo: number }[];
  if (routing.split) {
    const entries = Object.entries(routing.split);
    if (!entries.length) fail("split is empty");
    for (const [name, weight] of entries) {
      known(name, "split names");
      if (!(Number.isFinite(weight) && weight >= 0)) fail(`the weight of "${name}" must be a number >= 0, not ${weight}`);
    }
    const total = entries.reduce((sum, [, w]) => sum + w, 0);
    if (total <= 0) fail("the weights of split add up to 0");
    let sum = 0;
    choices = entries.filter(([, w]) => w > 0).map(([implementation, w]) => ({ implementation, upTo: (sum += w) / total }));
  } else if (routing.default !== undefined) {
    choices = [{ implementation: known(routing.default, "default"), upTo: 1 }];
  } else if (implementations.length === 1) {
    choices = [{ implementation: implementations[0]!, upTo: 1 }];
  } else {
    choices = fail(
      implementations.length
        ? `there are several implementations (${implementations.join(", ")}): say which answers with "default" or "split"`
        : "there is no implementation: add endpoints/<type>/<name>.ts exporting implement(...)",
    );
  }
  if (routing.timeoutMs !== undefined && !(Number.isFinite(routing.timeoutMs) && routing.timeoutMs > 0))
    fail(`timeoutMs must be a number of milliseconds > 0, not ${routing.timeoutMs}`);
  return {
    choices,
    sticky: routing.sticky ? routing.sticky.split(".") : undefined,
    shadow: routing.shadow === undefined ? undefined : known(routing.shadow, "shadow"),
    fallback: routing.fallback === undefined ? undefined : known(routing.fallback, "fallback"),
    timeoutMs: routing.timeoutMs ?? DEFAULT_TIMEOUT_MS,
  };
}

/** FNV-1a of a string, as a fraction in [0, 1): the same key always lands in the same place. */
export function stickyFraction(key: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) / 0x1_0000_0000;
}

function valueAt(input: unknown, path: readonly string[]): unknown {
  let value = input;
  for (const key of path) value = value !== null && typeof value === "object" ? (value as Record<string, unknown>)[key] : undefined;
  return value;
}

/** The implementation a routed call goes to. */
export function route(routing: ResolvedRouting, input: unknown): string {
  const { choices } = routing;
  if (choices.length === 1) return choices[0]!.implementation;
  const key = routing.sticky ? valueAt(input, routing.sticky) : undefined;
  const at = key === undefined || key === null ? Math.random() : stickyFraction(String(key));
  return (choices.find((c) => at < c.upTo) ?? choices[choices.length - 1]!).implementation;
}
