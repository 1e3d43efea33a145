import { randomBytes } from "node:crypto";

const ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"; // Crockford base32, lower case

function base32(value: bigint, length: number): string {
  let out = "";
  for (let i = 0; i < length; i++) {
    out = ALPHABET[Number(value & 31n)]! + out;
    value >>= 5n;
  }
  return out;
}

/**
 * A sortable, url-safe id: 10 characters of time (ms) then 8 random ones. Sorting ids sorts by
 * creation time, and a short prefix is usually enough to name a run on the command line.
 */
export function newId(prefix: string, nowMs: number): string {
  const random = BigInt(`0x${randomBytes(5).toString("hex")}`);
  return `${prefix}${base32(BigInt(nowMs), 10)}${base32(random, 8)}`;
}
