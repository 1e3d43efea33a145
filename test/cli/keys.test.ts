import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { hashApiKey } from "../../src/storage/api-key-store.js";
import { projectEachTest } from "./helpers.js";

interface CreatedJson {
  key: string;
  id: string;
  name: string;
  scopes: string[];
  createdAt: number;
}

interface KeyJson {
  id: string;
  name: string;
  scopes: string[];
  createdAt: number;
  revokedAt: number | null;
  hint: string;
}

// Each test runs several strata processes (about a second each, more on a busy machine).
const SLOW = { timeout: 120_000 };

const project = projectEachTest("basic");
const cli = project.cli;

/** The project's state files as text (SQLite pages decoded leniently). */
function stateFiles(): string {
  const dir = join(project.dir(), ".strata");
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => readFileSync(join(e.parentPath, e.name)).toString("latin1"))
    .join("\n");
}

describe("strata keys", () => {
  it("create prints the key once with how to send it; list shows it without the key or its hash; revoke marks it", SLOW, async () => {
    const created = await cli("keys", "create", "checkout-app");
    expect(created.code).toBe(0);
    const key = /^ {2}(strata_[A-Za-z0-9_-]{43})$/m.exec(created.stdout)?.[1];
    expect(key, created.stdout).toBeDefined();
    expect(created.stdout).toMatch(/^created API key k\w+ "checkout-app" \(scopes: invoke\)$/m);
    expect(created.stdout).toContain("will not be shown again");
    expect(created.stdout).toContain("Authorization: Bearer <key>");

    const listed = await cli("keys", "list");
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/^id\s+name\s+scopes\s+hint\s+created\s+revoked$/m);
    expect(listed.stdout).toMatch(new RegExp(`^k\\w+\\s+checkout-app\\s+invoke\\s+${key!.slice(0, 12)}…\\s+\\d{4}-.+Z\\s+-$`, "m"));
    expect(listed.stdout).not.toContain(key!);
    expect(listed.stdout).not.toContain(hashApiKey(key!));
    expect(stateFiles()).not.toContain(key!.slice(12));

    const revoked = await cli("keys", "revoke", "checkout-app");
    expect(revoked.code).toBe(0);
    expect(revoked.stdout).toMatch(/^revoked API key k\w+ "checkout-app"/);
    const after = JSON.parse((await cli("keys", "list", "--json")).stdout) as KeyJson[];
    expect(after).toHaveLength(1);
    expect(after[0]!.revokedAt).toEqual(expect.any(Number));
  });

  it(
    "--json: create prints { key, id, name, scopes, createdAt }; scopes repeat or split on commas; list never holds a hash",
    SLOW,
    async () => {
      const ops = await cli("keys", "create", "ops", "--scope", "manage,invoke", "--json");
      expect(ops.code).toBe(0);
      const created = JSON.parse(ops.stdout) as CreatedJson;
      expect(Object.keys(created)).toEqual(["key", "id", "name", "scopes", "createdAt"]);
      expect(created).toMatchObject({ name: "ops", scopes: ["invoke", "manage"] });
      expect(created.key).toMatch(/^strata_/);
      const admin = JSON.parse(
        (await cli("keys", "create", "admin", "--scope", "manage", "--scope", "invoke", "--json")).stdout,
      ) as CreatedJson;
      expect(admin.scopes).toEqual(["invoke", "manage"]);

      const listed = await cli("keys", "list", "--json");
      expect(listed.code).toBe(0);
      const keys = JSON.parse(listed.stdout) as KeyJson[];
      expect(keys.map((k) => [k.id, k.name, k.scopes, k.revokedAt, k.hint])).toEqual([
        [created.id, "ops", ["invoke", "manage"], null, created.key.slice(0, 12)],
        [admin.id, "admin", ["invoke", "manage"], null, admin.key.slice(0, 12)],
      ]);
      expect(Object.keys(keys[0]!).sort()).toEqual(["createdAt", "hint", "id", "name", "revokedAt", "scopes"]);
      expect(listed.stdout).not.toContain(hashApiKey(created.key));

      const byId = await cli("keys", "revoke", created.id, "--json");
      expect(byId.code).toBe(0);
      expect(JSON.parse(byId.stdout)).toMatchObject({ id: created.id, name: "ops", revokedAt: expect.any(Number) });
    },
  );

  it("bad input exits 2 with the error code: unknown scope, name taken, unknown key", SLOW, async () => {
    const scope = await cli("keys", "create", "x", "--scope", "admin");
    expect(scope.code).toBe(2);
    expect(scope.stderr).toContain(`error API_KEY_INVALID: unknown scope "admin" (valid scopes: invoke, manage, run)`);

    expect((await cli("keys", "create", "x")).code).toBe(0);
    const taken = await cli("keys", "create", "x", "--json");
    expect(taken.code).toBe(2);
    expect((JSON.parse(taken.stdout) as { error: { code: string } }).error.code).toBe("API_KEY_INVALID");

    const unknown = await cli("keys", "revoke", "nope");
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain(`error API_KEY_NOT_FOUND: no API key has the id or name "nope"`);

    const keys = JSON.parse((await cli("keys", "list", "--json")).stdout) as KeyJson[];
    expect(keys.map((k) => [k.name, k.revokedAt])).toEqual([["x", null]]);
  });

  it("list says so when there is no key", SLOW, async () => {
    const listed = await cli("keys", "list");
    expect(listed.code).toBe(0);
    expect(listed.stdout).toContain("no API key yet");
    expect(JSON.parse((await cli("keys", "list", "--json")).stdout)).toEqual([]);
  });
});
