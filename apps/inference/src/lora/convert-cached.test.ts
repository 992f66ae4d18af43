import { createHash } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateLoraBase, generatePeftAdapter, type TinyLoraOptions } from "@slm/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ZeroAlphaError } from "../formats/index.ts";
import { convertCached } from "./convert-cached.ts";
import { convertPeftToGguf } from "./convert-peft-to-gguf.ts";
import { MissingSourceError } from "./errors.ts";
import { readBaseModelInfo } from "./read-base-model-info.ts";

const SMALL: TinyLoraOptions = { base: { nLayer: 1, nEmbd: 32, nHead: 4, nFf: 48 } };
const sha256 = (bytes: Uint8Array | string) => createHash("sha256").update(bytes).digest("hex");

describe("convertCached", () => {
  let dir: string;
  let sources: { adapterConfigPath: string; safetensorsPath: string; basePath: string };
  const adapter = generatePeftAdapter(SMALL);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "lora-cache-"));
    sources = {
      adapterConfigPath: join(dir, "adapter_config.json"),
      safetensorsPath: join(dir, "adapter_model.safetensors"),
      basePath: join(dir, "base.gguf"),
    };
    await writeFile(sources.adapterConfigPath, adapter.files["adapter_config.json"]);
    await writeFile(sources.safetensorsPath, adapter.files["adapter_model.safetensors"]);
    await writeFile(sources.basePath, generateLoraBase(SMALL));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("converts once, then reuses the file for the same sources", async () => {
    const cacheDir = join(dir, "cache-a");
    const first = await convertCached({ cacheDir, ...sources });
    expect(first.converted).toBe(true);
    expect(first.path).toBe(join(cacheDir, `${first.key}.gguf`));
    const expected = convertPeftToGguf({
      adapterConfig: adapter.files["adapter_config.json"],
      safetensors: adapter.files["adapter_model.safetensors"],
      base: await readBaseModelInfo(sources.basePath),
    });
    expect(Buffer.from(await readFile(first.path)).equals(Buffer.from(expected))).toBe(true);

    const before = await stat(first.path);
    const second = await convertCached({ cacheDir, ...sources });
    expect(second).toEqual({ ...first, converted: false });
    expect((await stat(second.path)).mtimeMs).toBe(before.mtimeMs);
    // No temporary file left behind; the converted file's own sha256 beside it.
    expect((await readdir(cacheDir)).sort()).toEqual([`${first.key}.gguf`, `${first.key}.gguf.sha256`]);
    expect((await readFile(`${first.path}.sha256`, "utf8")).trim()).toBe(sha256(expected));
  });

  it("converts again when the cached file no longer hashes to what was recorded", async () => {
    const cacheDir = join(dir, "cache-tampered");
    const first = await convertCached({ cacheDir, ...sources });
    const good = await readFile(first.path);
    const tampered = Buffer.from(good);
    tampered[tampered.length - 1] = tampered[tampered.length - 1]! ^ 0xff;
    await writeFile(first.path, tampered);
    const again = await convertCached({ cacheDir, ...sources });
    expect(again.converted).toBe(true);
    expect(Buffer.from(await readFile(again.path)).equals(good)).toBe(true);
    // A file with no recorded digest (an older cache, or a crash between the two writes) is converted again too.
    await rm(`${first.path}.sha256`);
    expect((await convertCached({ cacheDir, ...sources })).converted).toBe(true);
    expect((await convertCached({ cacheDir, ...sources })).converted).toBe(false);
  });

  it("keys by the sources' sha256, given or computed, and by the output options", async () => {
    const cacheDir = join(dir, "cache-b");
    const computed = await convertCached({ cacheDir, ...sources });
    const given = await convertCached({
      cacheDir,
      ...sources,
      sha256: {
        adapterConfig: sha256(adapter.files["adapter_config.json"]),
        safetensors: sha256(adapter.files["adapter_model.safetensors"]),
        base: sha256(await readFile(sources.basePath)),
      },
    });
    expect(given).toEqual({ ...computed, converted: false });

    const f16 = await convertCached({ cacheDir, ...sources, outType: "f16" });
    expect(f16.key).not.toBe(computed.key);
    const otherBase = await convertCached({ cacheDir, ...sources, sha256: { base: "0".repeat(64) } });
    expect(otherBase.key).not.toBe(computed.key);
  });

  it("writes nothing when the conversion is refused", async () => {
    const cacheDir = join(dir, "cache-c");
    const config = join(dir, "alpha0.json");
    await writeFile(config, JSON.stringify({ ...adapter.config, lora_alpha: 0 }));
    await expect(convertCached({ cacheDir, ...sources, adapterConfigPath: config })).rejects.toThrow(ZeroAlphaError);
    await expect(readdir(cacheDir)).rejects.toThrow(); // not even created
    await expect(
      convertCached({ cacheDir, ...sources, safetensorsPath: join(dir, "gone.safetensors") }),
    ).rejects.toThrow(new MissingSourceError("gone.safetensors"));
  });
});
