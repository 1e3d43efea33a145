/** Resolves at the first SIGINT or SIGTERM, after saying `message` on stderr: how a long-running command stops. */
export function untilStopped(message: string): Promise<void> {
  return new Promise((resolve) => {
    const stop = (): void => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      process.stderr.write(`${message}\n`);
      resolve();
    };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
}
