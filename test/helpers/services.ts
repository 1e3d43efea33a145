/**
 * The throwaway servers `npm test` starts (scripts/services.sh). Tests that need one call these;
 * without the variable they fail with a message rather than skip, so CI can never pass silently
 * without them.
 */
function required(name: string, what: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the tests through \`npm test\`, which starts a throwaway ${what}`);
  return value;
}

export const redisUrl = (): string => required("STRATA_TEST_REDIS_URL", "Redis");
export const postgresUrl = (): string => required("STRATA_TEST_POSTGRES_URL", "PostgreSQL");

/** A name no other test file uses, for keys, schemas and tables on the shared servers. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${process.pid}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
}
