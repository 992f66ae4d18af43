import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describeError, readInferenceEnv, SafeError, type InferenceConfig } from "@slm/config";

/** A command used in a way it cannot work (its message says what to change). */
export class UsageError extends SafeError {
  override readonly name = "UsageError";
  readonly code = "usage";
}

/**
 * Runs a `pnpm models:*` command: reads the root `.env` and the inference environment (the same configuration the
 * service uses), runs the action, and on failure prints one line naming the problem (never a stack trace, a URL or
 * a token) and exits 1.
 */
export function runCommand(name: string, action: (config: InferenceConfig) => Promise<void>): void {
  const rootEnv = fileURLToPath(new URL("../../../../.env", import.meta.url));
  if (existsSync(rootEnv)) process.loadEnvFile(rootEnv);
  Promise.resolve()
    .then(() => {
      const config = readInferenceEnv(process.env);
      for (const { variable, reason } of config.ignored)
        process.stderr.write(`warn: ${variable} is set but ignored: it ${reason}\n`);
      return action(config);
    })
    .then(
      () => process.exit(0),
      (error: unknown) => {
        const { code, message } = describeError(error, "unexpected_error");
        process.stderr.write(`${name} failed [${code}]: ${message}\n`);
        process.exit(1);
      },
    );
}
