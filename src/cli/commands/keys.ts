import type { ApiKeyRecord, ApiScope } from "../../storage/api-key-store.js";
import { EXIT } from "../exit-codes.js";
import { formatTime, table } from "../format.js";
import { withProject } from "../with-project.js";

export interface KeysOptions {
  project?: string;
  json?: boolean;
}

export interface KeysCreateOptions extends KeysOptions {
  /** Scopes as given (`--scope` repeated or comma-separated); the store checks them. Default: invoke. */
  scope?: string[];
}

const DEFAULT_SCOPES: readonly ApiScope[] = ["invoke"];

/** `strata keys create <name> [--scope ...]`: prints the new key, once. */
export function keysCreateCommand(name: string, options: KeysCreateOptions): Promise<number> {
  return withProject(options, async (_project, workspace) => {
    const scopes = options.scope?.length ? (options.scope as ApiScope[]) : DEFAULT_SCOPES;
    const { key, record } = await workspace.apiKeys.create(name, scopes, Date.now());
    if (options.json) {
      const { id, name: keyName, scopes: keyScopes, createdAt } = record;
      process.stdout.write(`${JSON.stringify({ key, id, name: keyName, scopes: keyScopes, createdAt })}\n`);
      return EXIT.OK;
    }
    process.stdout.write(
      [
        `created API key ${record.id} "${record.name}" (scopes: ${record.scopes.join(", ")})`,
        "",
        `  ${key}`,
        "",
        "This key will not be shown again: only its hash is kept. Store it now.",
        "Send it with each request to the models service: Authorization: Bearer <key>",
        "",
      ].join("\n"),
    );
    return EXIT.OK;
  });
}

/** `strata keys list`: every key with its scopes, hint and state; never a hash. */
export function keysListCommand(options: KeysOptions): Promise<number> {
  return withProject(options, async (_project, workspace) => {
    const keys = await workspace.apiKeys.list();
    if (options.json) {
      process.stdout.write(`${JSON.stringify(keys, null, 2)}\n`);
      return EXIT.OK;
    }
    if (!keys.length) {
      process.stdout.write("no API key yet (create one: strata keys create <name> --scope invoke)\n");
      return EXIT.OK;
    }
    process.stdout.write(
      `${table(
        ["id", "name", "scopes", "hint", "created", "revoked"],
        keys.map((k) => [k.id, k.name, k.scopes.join(","), `${k.hint}…`, formatTime(k.createdAt), formatTime(k.revokedAt)]),
      )}\n`,
    );
    return EXIT.OK;
  });
}

/** `strata keys revoke <id|name>`: marks the key revoked; the models service stops accepting it. */
export function keysRevokeCommand(idOrName: string, options: KeysOptions): Promise<number> {
  return withProject(options, async (_project, workspace) => {
    const now = Date.now();
    const record: ApiKeyRecord = await workspace.apiKeys.revoke(idOrName, now);
    if (options.json) process.stdout.write(`${JSON.stringify(record)}\n`);
    else if (record.revokedAt !== now)
      process.stdout.write(`API key ${record.id} "${record.name}" was already revoked (${formatTime(record.revokedAt)})\n`);
    else process.stdout.write(`revoked API key ${record.id} "${record.name}" (${record.hint}…)\n`);
    return EXIT.OK;
  });
}
