// `pnpm models:convert` as users run it: a real process converting a local transformers folder, or the configured
// BASE_MODEL from the (fake) Hub into the converted cache the service reuses.
import { spawn } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { generatePeftAdapter, generateTransformersModel, readDirFiles, startFakeHub, type FakeHub } from "@slm/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { convertTransformersCached } from "../src/convert/index.ts";

const appDir = fileURLToPath(new URL("..", import.meta.url));
const TINY = { base: { nLayer: 2, nEmbd: 64, nHead: 4, nHeadKv: 2, nFf: 128 }, seed: 5 };

function modelsConvert(
  args: string[],
  vars: Record<string, string>,
  cwd: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("node", ["--import", "tsx", "src/cli/models-convert.ts", ...args], {
      cwd: appDir,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, INIT_CWD: cwd, MODEL_LOCKFILE: "none", ...vars },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.once("error", reject);
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe("models:convert", { timeout: 90_000 }, () => {
  let dir: string;
  let hub: FakeHub;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "models-convert-"));
    await generateTransformersModel({ architecture: "LlamaForCausalLM", dir: join(dir, "model"), seed: 2 });
    const adapter = generatePeftAdapter({ ...TINY, baseModelName: "meta/tiny" }).files;
    await mkdir(join(dir, "adapter"));
    for (const [name, content] of Object.entries(adapter)) await writeFile(join(dir, "adapter", name), content);
    hub = await startFakeHub();
    hub.addRepo({ id: "meta/tiny", license: "llama3", files: await readDirFiles(join(dir, "model")) });
    hub.addRepo({ id: "acme/poet", license: "llama3", files: adapter });
  });
  afterAll(async () => {
    await hub?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("converts a local folder to --out, the same bytes as the converter, relative to where it was called", async () => {
    const run = await modelsConvert(["--from", "model", "--out", "out/model.gguf", "--quant", "f16"], {}, dir);
    expect(run.stderr).not.toMatch(/failed/);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(`wrote ${join(dir, "out/model.gguf")} (f16)\n`);
    const names = await readdir(join(dir, "model"));
    const reference = await convertTransformersCached({
      cacheDir: join(dir, "reference"),
      files: Object.fromEntries(names.map((n) => [n, join(dir, "model", n)])),
      outType: "f16",
      name: "model",
    });
    expect(Buffer.compare(await readFile(join(dir, "out/model.gguf")), await readFile(reference.path))).toBe(0);
    // Nothing but the output is left beside it.
    expect(await readdir(join(dir, "out"))).toEqual(["model.gguf"]);
  });

  it("merges an adapter with --merge, which changes the weights", async () => {
    const run = await modelsConvert(
      ["--from", "model", "--out", "merged.gguf", "--merge", "adapter", "--quant", "f16"],
      {},
      dir,
    );
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/merged\.gguf \(f16, adapter merged\)/);
    const merged = await readFile(join(dir, "merged.gguf"));
    const plain = await readFile(join(dir, "out/model.gguf")); // the test above: the same model, f16, not merged
    expect(merged.length).toBe(plain.length);
    expect(Buffer.compare(merged, plain)).not.toBe(0);
  });

  it("refuses a folder that is not a transformers model, and bad usage, with one line", async () => {
    const notModel = await modelsConvert(["--from", "adapter", "--out", "x.gguf"], {}, dir);
    expect(notModel.code).toBe(1);
    expect(notModel.stderr.trim().split("\n")).toHaveLength(1);
    expect(notModel.stderr).toMatch(/^models:convert failed \[usage\]: .*adapter is not a transformers model folder/);
    const usage = await modelsConvert(["--from", "model"], {}, dir);
    expect(usage.code).toBe(1);
    expect(usage.stderr).toMatch(/usage: pnpm models:convert/);
  });

  it("converts the configured BASE_MODEL from the Hub into the converted cache, then reuses it", async () => {
    const env = {
      HF_ENDPOINT: hub.url,
      MODEL_CACHE_DIR: join(dir, "hf", "hub"),
      MODEL_TYPE: "lora",
      LORA_ID: "acme/poet",
      BASE_MODEL: "meta/tiny",
      BASE_MODEL_QUANT: "f16",
    };
    const first = await modelsConvert([], env, dir);
    expect(first.stderr).not.toMatch(/failed/);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(
      /^converted meta\/tiny revision main -> commit [0-9a-f]{40} \(f16\): .*slm-converted-base\/[0-9a-f]{64}\.gguf\n$/,
    );
    const again = await modelsConvert(["--out", "copy.gguf"], env, dir);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/^reused meta\/tiny/);
    // Offline (a container started from the build's cache): nothing asked of the Hub, the conversion reused.
    hub.resetLog();
    const offline = await modelsConvert([], { ...env, HF_HUB_OFFLINE: "1" }, dir);
    expect(offline.stderr).not.toMatch(/failed/);
    expect(offline.stdout).toMatch(/^reused meta\/tiny revision main -> commit/);
    expect(hub.requests).toEqual([]);
    expect((await readdir(join(dir, "hf", "slm-converted-base"))).filter((f) => f.endsWith(".gguf"))).toHaveLength(1);
    expect(await readFile(join(dir, "copy.gguf"))).toEqual(
      await readFile(
        join(
          dir,
          "hf",
          "slm-converted-base",
          (await readdir(join(dir, "hf", "slm-converted-base"))).find((f) => f.endsWith(".gguf"))!,
        ),
      ),
    );
  });
});
