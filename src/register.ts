/**
 * `node --import strata/register file.ts`: lets Node run a project's TypeScript (tests,
 * scripts) with the same loader `strata run` uses.
 * @module
 */
import { register } from "tsx/esm/api";

register();
