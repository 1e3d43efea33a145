import { scaffoldProject } from "../../project/scaffold.js";
import { EXIT } from "../exit-codes.js";

/** `strata init <dir>`: scaffold a project that runs as generated. */
export function initCommand(target: string, options: { install: boolean; strata?: string }): number {
  const log = (line: string): void => void process.stdout.write(`${line}\n`);
  const { dir, files } = scaffoldProject(target, {
    install: options.install,
    log,
    ...(options.strata ? { strataSpec: options.strata } : {}),
  });
  log(`created ${dir}:`);
  for (const file of files) log(`  ${file}`);
  log("");
  log("next:");
  log(`  cd ${target}`);
  if (!options.install) log("  npm install");
  log("  npx strata run orders --param minAmount=20");
  log("  npm test");
  return EXIT.OK;
}
