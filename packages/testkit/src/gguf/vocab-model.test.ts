// Models with real vocabularies: the Q8_0 encoding, the tokenizer metadata carried over, and each layout loading
// and generating in llama.cpp (node-llama-cpp), on the vocabularies of the llama.cpp source node-llama-cpp bundles.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { getLlama, LlamaLogLevel, type Llama } from "node-llama-cpp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { llamaSourcePath } from "../llama-source/index.ts";
import { parseGguf } from "./parse-for-tests.ts";
import { readTokenizerMetadata } from "./read-tokenizer-metadata.ts";
import { generateVocabModel, type VocabModelArchitecture } from "./vocab-model.ts";
import { writeGguf } from "./writer.ts";

describe("Q8_0 tensors", () => {
  it("are blocks of an f16 scale and 32 int8 values, as ggml's reference quantizer writes them", async () => {
    const values = Float32Array.from({ length: 64 }, (_, i) => (i < 32 ? (i - 16) / 4 : 0));
    const bytes = writeGguf({
      metadata: {},
      tensors: [{ name: "q", dims: [64], type: "q8_0", fill: (data) => data.set(values) }],
    });
    const parsed = await parseGguf(bytes);
    expect(parsed.tensorInfos[0]!.dtype).toBe(8); // GGML_TYPE_Q8_0
    const start = Number(parsed.tensorDataOffset);
    const view = new DataView(bytes.buffer, start, 68);
    expect(view.getUint16(0, true)).toBe(0x2808); // f16(4 / 127)
    expect(view.getInt8(2)).toBe(-127); // -4 / d
    expect(view.getInt8(2 + 16)).toBe(0);
    expect(view.getInt8(2 + 24)).toBe(64); // 2 / d = 63.5, rounded away from zero
    expect(view.getUint16(34, true)).toBe(0); // an all-zero block has scale 0
    expect(() =>
      writeGguf({ metadata: {}, tensors: [{ name: "bad", dims: [48], type: "q8_0", fill: () => undefined }] }),
    ).toThrow(/multiple of 32/);
  });
});

describe("generateVocabModel", { timeout: 120_000 }, () => {
  let llama: Llama;
  let dir: string;
  beforeAll(async () => {
    llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error });
    dir = await mkdtemp(join(tmpdir(), "vocab-model-"));
  });
  afterAll(async () => {
    await llama?.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  const layouts: Array<[string, VocabModelArchitecture, "f16" | "q8_0"]> = [
    ["phi-3", "phi3", "f16"],
    ["llama-spm", "gemma3", "q8_0"],
    ["llama-spm", "qwen3", "f16"],
    ["llama-spm", "qwen2", "q8_0"],
  ];
  for (const [vocab, architecture, tensorType] of layouts) {
    it(`${architecture} (${tensorType}) with the ${vocab} vocabulary loads, tokenizes as that family and generates`, async () => {
      const tokenizer = await readTokenizerMetadata(await llamaSourcePath(`models/ggml-vocab-${vocab}.gguf`));
      const path = join(dir, `${architecture}-${tensorType}.gguf`);
      await writeFile(
        path,
        generateVocabModel({ tokenizer, architecture, tensorType, chatTemplate: "{{ messages[0].content }}" }),
      );
      const model = await llama.loadModel({ modelPath: path });
      try {
        expect(model.fileInfo.metadata.general.architecture).toBe(architecture);
        // SentencePiece: a space prefix, and "Hello" is one token of the real vocabulary.
        expect(model.detokenize(model.tokenize("Hello world")).trimStart()).toBe("Hello world");
        expect(model.tokenize("Hello").length).toBe(1);
        expect(model.fileInfo.metadata.tokenizer.chat_template).toBe("{{ messages[0].content }}");
        const context = await model.createContext({ contextSize: 128 });
        const generated = [];
        for await (const token of context.getSequence().evaluate(model.tokenize("Hello", true), { temperature: 0 })) {
          generated.push(token);
          if (generated.length === 4) break;
        }
        expect(generated).toHaveLength(4);
        await context.dispose();
      } finally {
        await model.dispose();
      }
    });
  }
});
