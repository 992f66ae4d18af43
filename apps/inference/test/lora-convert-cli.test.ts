// `pnpm lora:convert` as users run it: a real process on an adapter folder written to disk.
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { generateLoraBase, generatePeftAdapter, type TinyLoraOptions } from "@slm/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { convertPeftToGguf, readBaseModelInfo } from "../src/lora/index.ts";

const appDir = fileURLToPath(new URL("..", import.meta.url));
const SMALL: TinyLoraOptions = { base: { nLayer: 1, nEmbd: 32, nHead: 4, nFf: 48 } };

/** Runs the command with `args`, from `cwd` as INIT_CWD (what pnpm sets); resolves with exit code and output. */
async function loraConvert(args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(
      "node",
      ["--import", "tsx", "src/cli/lora-convert.ts", ...args],
      {
        cwd: appDir,
        env: { ...process.env, INIT_CWD: cwd },
      },
    );
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

describe("lora:convert", { timeout: 60_000 }, () => {
  let dir: string;
  const adapter = generatePeftAdapter(SMALL);

  async function adapterFolder(name: string, config: Record<string, unknown> = adapter.config): Promise<string> {
    await mkdir(join(dir, name), { recursive: true });
    await writeFile(join(dir, name, "adapter_config.json"), JSON.stringify(config));
    await writeFile(join(dir, name, "adapter_model.safetensors"), adapter.files["adapter_model.safetensors"]);
    return join(dir, name);
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "lora-cli-"));
    await writeFile(join(dir, "base.gguf"), generateLoraBase(SMALL));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("converts a folder next to itself, paths relative to where it was called", async () => {
    const folder = await adapterFolder("ok");
    const result = await loraConvert(["ok", "--base", "base.gguf"], dir);
    expect(result.stdout).toMatch(/^wrote .*ok\/adapter\.gguf: llama LoRA adapter, F32, \d+ bytes\n$/);
    expect(result.code).toBe(0);
    const expected = convertPeftToGguf({
      adapterConfig: adapter.files["adapter_config.json"],
      safetensors: adapter.files["adapter_model.safetensors"],
      base: await readBaseModelInfo(join(dir, "base.gguf")),
    });
    expect(Buffer.from(await readFile(join(folder, "adapter.gguf"))).equals(Buffer.from(expected))).toBe(true);
  });

  it("writes F16 to --out", async () => {
    await adapterFolder("half");
    const result = await loraConvert(
      ["--", "half", "--base", "base.gguf", "--out", "half.gguf", "--out-type", "f16"],
      dir,
    );
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/half\.gguf: llama LoRA adapter, F16/);
    expect((await readFile(join(dir, "half.gguf"))).subarray(0, 4).toString()).toBe("GGUF");
  });

  it("fails with the refusal's code and message, writing nothing", async () => {
    await adapterFolder("dora", { ...adapter.config, use_dora: true });
    const result = await loraConvert(["dora", "--base", "base.gguf"], dir);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^lora:convert failed \[lora_dora_unsupported\] DoRA adapters/);
    await expect(readFile(join(dir, "dora", "adapter.gguf"))).rejects.toThrow();
  });

  it("explains its usage and missing inputs", async () => {
    const [usage, unknownOption, missing] = await Promise.all([
      loraConvert(["ok"], dir),
      loraConvert(["ok", "--base", "base.gguf", "--bogus"], dir),
      loraConvert(["nowhere", "--base", "base.gguf"], dir),
    ]);
    expect([usage.code, usage.stderr]).toEqual([
      1,
      expect.stringMatching(/\[usage\] usage: pnpm lora:convert <adapter-dir> --base <base\.gguf>/),
    ]);
    expect(unknownOption.stderr).toMatch(/\[usage\]/);
    expect([missing.code, missing.stderr]).toEqual([
      1,
      expect.stringMatching(/\[lora_missing_file\] cannot read adapter_config\.json/),
    ]);
  });
});
