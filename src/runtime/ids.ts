import { randomFillSync } from "node:crypto";

const ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"; // Crockford base32, lower case

// Random bytes drawn a few KiB at a time: a draw per id cost a control plane launching runs by the
// thousand more than its ids' every other part.
const pool = Buffer.alloc(4096);
let used = pool.length;

/** `length` characters of 5 random bits each (from a byte each: 256 is a multiple of 32, so uniform). */
function randomChars(length: number): string {
  if (used + length > pool.length) {
    randomFillSync(pool);
    used = 0;
  }
  let out = "";
  for (let i = 0; i < length; i++) out += ALPHABET[pool[used++]! & 31];
  return out;
}

/** `value` (a whole number below 2^53) as `length` base32 characters, most significant first. */
function base32(value: number, length: number): string {
  let out = "";
  for (let i = 0; i < length; i++) {
    out = ALPHABET[value % 32]! + out;
    value = Math.floor(value / 32);
  }
  return out;
}

/**
 * A sortable, url-safe id: 10 characters of time (ms) then 8 random ones. Sorting ids sorts by
 * creation time, and a short prefix is usually enough to name a run on the command line.
 */
export function newId(prefix: string, nowMs: number): string {
  return `${prefix}${base32(Math.max(0, Math.floor(nowMs)), 10)}${randomChars(8)}`;
}
