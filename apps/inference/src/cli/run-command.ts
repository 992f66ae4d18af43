import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { EnvError, readInferenceEnv, type InferenceConfig } from "@slm/config";
import { InvalidModelError } from "../engine/gguf-metadata.ts";
import { UnsupportedModelTypeError } from "../hub/configured-artifacts.ts";
import { HubError } from "../hub/errors.ts";
import { TokenFileError } from "../hub/read-token.ts";
import { LoraError } from "../lora/errors.ts";
import { ConvertError } from "../convert/errors.ts";

/** A command used in a way it cannot work (its message says what to change). */
export class UsageError extends Error {
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
      for (const { variable, reason } of config.ignored) process.stderr.write(`warn: ${variable} is set but ignored: it ${reason}\n`);
      return action(config);
    })
    .then(
      () => process.exit(0),
      (error: unknown) => {
        const code = (error as { code?: unknown })?.code;
        process.stderr.write(`${name} failed${typeof code === "string" ? ` [${code}]` : ""}: ${describe(error)}\n`);
        process.exit(1);
      },
    );
}

function describe(error: unknown): string {
  const known = [UsageError, HubError, EnvError, InvalidModelError, TokenFileError, UnsupportedModelTypeError, LoraError, ConvertError];
  if (known.some((type) => error instanceof type)) return (error as Error).message;
  return `unexpected ${error instanceof Error ? error.name : "failure"}`;
}
