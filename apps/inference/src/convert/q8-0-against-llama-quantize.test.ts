// Optional tier: our Q8_0 is byte for byte what llama.cpp's own llama-quantize writes from the same F16 weights. Runs
// when the reference build is present (LLAMA_QUANTIZE, or beside the llama-server the test kit starts); CI relies on
// the unit tests of encode-tensor-data.ts and the logits tests.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { generateTransformersModel, LLAMA_SERVER, parseGguf } from "@slm/testkit";
import { afterAll, describe, expect, it } from "vitest";
import { convertTransformersToGguf } from "./convert-transformers.ts";

const LLAMA_QUANTIZE = process.env["LLAMA_QUANTIZE"] ?? join(dirname(LLAMA_SERVER), "llama-quantize");

describe.skipIf(!existsSync(LLAMA_QUANTIZE))("Q8_0 against llama-quantize", () => {
  const root = mkdtemp(join(tmpdir(), "q8-quantize-"));
  afterAll(async () => rm(await root, { recursive: true, force: true }));

  it("writes the same Q8_0 blocks as llama.cpp for every quantized tensor", async () => {
    const dir = await root;
    const model = join(dir, "model");
    await generateTransformersModel({
      architecture: "LlamaForCausalLM",
      dir: model,
      seed: 4,
      hiddenSize: 128,
      intermediateSize: 256,
      numHeads: 4,
      numKvHeads: 2,
    });
    const files = Object.fromEntries((await readdir(model)).map((name) => [name, join(model, name)]));
    await convertTransformersToGguf({ files, outType: "f16", outPath: join(dir, "f16.gguf") });
    await convertTransformersToGguf({ files, outType: "q8_0", outPath: join(dir, "ours.gguf") });
    await promisify(execFile)(LLAMA_QUANTIZE, ["--pure", join(dir, "f16.gguf"), join(dir, "theirs.gguf"), "Q8_0", "1"]);

    const tensors = async (path: string) => {
      const bytes = await readFile(path);
      const { tensorInfos, tensorDataOffset } = await parseGguf(bytes);
      return new Map(
        tensorInfos.map((info) => {
          const elements = Number(info.shape.reduce((a, b) => a * b, 1n));
          const size = info.dtype === 8 ? (elements / 32) * 34 : info.dtype === 1 ? elements * 2 : elements * 4;
          const start = Number(tensorDataOffset + info.offset);
          return [info.name, { type: info.dtype, data: bytes.subarray(start, start + size) }];
        }),
      );
    };
    const [ours, theirs] = [await tensors(join(dir, "ours.gguf")), await tensors(join(dir, "theirs.gguf"))];
    let compared = 0;
    for (const [name, tensor] of ours) {
      const other = theirs.get(name)!;
      expect([name, tensor.type]).toEqual([name, other.type]);
      expect([name, Buffer.compare(Buffer.from(tensor.data), Buffer.from(other.data))]).toEqual([name, 0]);
      if (tensor.type === 8) compared++;
    }
    expect(compared).toBeGreaterThan(10);
  });
});
