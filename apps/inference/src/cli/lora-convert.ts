/**
 * `pnpm lora:convert <adapter-dir> --base <base.gguf> [--out <file.gguf>] [--out-type f32|f16] [--name <name>]`
 *
 * Converts a PEFT LoRA adapter folder (adapter_config.json + adapter_model.safetensors) to llama.cpp's GGUF adapter
 * format offline, checked against the base GGUF it will be applied to. Default output: `<adapter-dir>/adapter.gguf`.
 * On failure prints one line with the error's code and exits 1.
 */
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { describeError } from "@slm/config";
import { UsageError } from "./run-command.ts";
import { writeFileAtomic } from "../formats/index.ts";
import { convertPeftFiles } from "../lora/index.ts";

const USAGE =
  "usage: pnpm lora:convert <adapter-dir> --base <base.gguf> [--out <file.gguf>] [--out-type f32|f16] [--name <name>]";

async function main(): Promise<void> {
  const { values, positionals } = parseCommandLine();
  const outType = values["out-type"];
  if (positionals.length !== 1 || !values.base || (outType !== "f32" && outType !== "f16")) throw new UsageError(USAGE);
  // pnpm runs scripts from the workspace root; INIT_CWD is where the user typed the command.
  const cwd = process.env.INIT_CWD ?? process.cwd();
  const dir = resolve(cwd, positionals[0]!);
  const out = resolve(cwd, values.out ?? join(dir, "adapter.gguf"));

  const { bytes, architecture } = await convertPeftFiles({
    adapterConfigPath: join(dir, "adapter_config.json"),
    safetensorsPath: join(dir, "adapter_model.safetensors"),
    basePath: resolve(cwd, values.base),
    outType,
    ...(values.name === undefined ? {} : { name: values.name }),
  });
  await writeFileAtomic(out, bytes, { flush: true });
  process.stdout.write(`wrote ${out}: ${architecture} LoRA adapter, ${outType.toUpperCase()}, ${bytes.length} bytes\n`);
}

function parseCommandLine() {
  try {
    return parseArgs({
      args: process.argv.slice(2).filter((arg) => arg !== "--"), // `pnpm run x -- args` passes the separator on
      allowPositionals: true,
      options: {
        base: { type: "string" },
        out: { type: "string" },
        "out-type": { type: "string", default: "f32" },
        name: { type: "string" },
      },
    });
  } catch {
    throw new UsageError(USAGE);
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    const { code, message } = describeError(error, "unexpected_error");
    process.stderr.write(`lora:convert failed [${code}] ${message}\n`);
    process.exit(1);
  },
);
