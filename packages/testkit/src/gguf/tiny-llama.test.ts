import { GGUFValueType } from "@huggingface/gguf";
import { describe, expect, it } from "vitest";
import { permuteForLlamaRope } from "./llama-rope-permute.ts";
import { parseGguf, readF32Tensors } from "./parse-for-tests.ts";
import {
  BENCHMARK_LLAMA_OPTIONS,
  generateTinyLlama,
  tinyLlamaMetadata,
  tinyLlamaParameterCount,
  type TinyLlamaOptions,
} from "./tiny-llama.ts";
import { buildLlamaVocab, TokenType } from "./vocab.ts";

const { ARRAY, BOOL, FLOAT32, INT32, STRING, UINT32 } = GGUFValueType;

// Every key written, with its GGUF type (and array element type). llama.cpp
// aborts or refuses to load without the architecture/tokenizer ones, so this
// doubles as the check before a model is ever handed to node-llama-cpp.
const EXPECTED_KEYS: Record<string, [GGUFValueType, GGUFValueType?]> = {
  "general.architecture": [STRING],
  "general.name": [STRING],
  "general.file_type": [UINT32],
  "general.alignment": [UINT32],
  "llama.context_length": [UINT32],
  "llama.embedding_length": [UINT32],
  "llama.block_count": [UINT32],
  "llama.feed_forward_length": [UINT32],
  "llama.rope.dimension_count": [UINT32],
  "llama.attention.head_count": [UINT32],
  "llama.attention.head_count_kv": [UINT32],
  "llama.attention.layer_norm_rms_epsilon": [FLOAT32],
  "llama.rope.freq_base": [FLOAT32],
  "llama.vocab_size": [UINT32],
  "tokenizer.ggml.model": [STRING],
  "tokenizer.ggml.tokens": [ARRAY, STRING],
  "tokenizer.ggml.scores": [ARRAY, FLOAT32],
  "tokenizer.ggml.token_type": [ARRAY, INT32],
  "tokenizer.ggml.bos_token_id": [UINT32],
  "tokenizer.ggml.eos_token_id": [UINT32],
  "tokenizer.ggml.unknown_token_id": [UINT32],
  "tokenizer.ggml.add_bos_token": [BOOL],
  "tokenizer.ggml.add_eos_token": [BOOL],
};

describe("generateTinyLlama", () => {
  it("writes all llama hyperparameters and tokenizer keys with their GGUF types", async () => {
    const { typedMetadata } = await parseGguf(generateTinyLlama());
    const types: Record<string, GGUFValueType[]> = {};
    for (const [key, entry] of Object.entries(typedMetadata)) {
      if (["version", "tensor_count", "kv_count"].includes(key)) continue;
      const { type, subType } = entry as { type: GGUFValueType; subType?: GGUFValueType };
      types[key] = subType === undefined ? [type] : [type, subType];
    }
    expect(types).toEqual(EXPECTED_KEYS);

    const value = (key: string) => typedMetadata[key]?.value;
    expect(value("general.architecture")).toBe("llama");
    expect(value("general.name")).toBe("tiny-llama");
    expect(value("general.file_type")).toBe(0);
    expect(value("llama.context_length")).toBe(512);
    expect(value("llama.embedding_length")).toBe(64);
    expect(value("llama.block_count")).toBe(2);
    expect(value("llama.feed_forward_length")).toBe(128);
    expect(value("llama.rope.dimension_count")).toBe(16);
    expect(value("llama.attention.head_count")).toBe(4);
    expect(value("llama.attention.head_count_kv")).toBe(4);
    expect(value("llama.attention.layer_norm_rms_epsilon")).toBeCloseTo(1e-5, 10);
    expect(value("llama.rope.freq_base")).toBe(10000);
    expect(value("tokenizer.ggml.model")).toBe("llama");
    expect(value("tokenizer.ggml.bos_token_id")).toBe(1);
    expect(value("tokenizer.ggml.eos_token_id")).toBe(2);
    expect(value("tokenizer.ggml.unknown_token_id")).toBe(0);
    expect(value("tokenizer.ggml.add_bos_token")).toBe(true);
    expect(value("tokenizer.ggml.add_eos_token")).toBe(false);

    const tokens = value("tokenizer.ggml.tokens") as string[];
    expect(value("llama.vocab_size")).toBe(tokens.length);
    expect((value("tokenizer.ggml.scores") as number[]).length).toBe(tokens.length);
    expect((value("tokenizer.ggml.token_type") as number[]).length).toBe(tokens.length);
  });

  it("writes the optional keys when given", async () => {
    const template = "{% for message in messages %}{{ message['content'] }}{% endfor %}";
    const { typedMetadata } = await parseGguf(
      generateTinyLlama({ name: "custom", license: "mit", chatTemplate: template, extraTokens: ["<|im_end|>"] }),
    );
    expect(typedMetadata["general.name"]?.value).toBe("custom");
    expect(typedMetadata["general.license"]?.value).toBe("mit");
    expect(typedMetadata["tokenizer.chat_template"]?.value).toBe(template);
    expect((typedMetadata["tokenizer.ggml.tokens"]!.value as string[]).at(-1)).toBe("<|im_end|>");
    expect((typedMetadata["tokenizer.ggml.token_type"]!.value as number[]).at(-1)).toBe(TokenType.control);
  });

  it("has the tensors llama.cpp expects, in ggml dim order, aligned", async () => {
    const { tensorInfos, tensorDataOffset } = await parseGguf(
      generateTinyLlama({ nLayer: 1, nEmbd: 32, nHead: 4, nHeadKv: 2, nFf: 48 }),
    );
    const nVocab = BigInt(buildLlamaVocab().tokens.length);
    const shapes = Object.fromEntries(tensorInfos.map((info) => [info.name, info.shape]));
    expect(shapes).toEqual({
      "token_embd.weight": [32n, nVocab],
      "blk.0.attn_norm.weight": [32n],
      "blk.0.attn_q.weight": [32n, 32n],
      "blk.0.attn_k.weight": [32n, 16n], // 2 kv heads × head size 8
      "blk.0.attn_v.weight": [32n, 16n],
      "blk.0.attn_output.weight": [32n, 32n],
      "blk.0.ffn_norm.weight": [32n],
      "blk.0.ffn_gate.weight": [32n, 48n],
      "blk.0.ffn_up.weight": [32n, 48n],
      "blk.0.ffn_down.weight": [48n, 32n],
      "output_norm.weight": [32n],
      "output.weight": [32n, nVocab],
    });
    expect(Number(tensorDataOffset) % 32).toBe(0);
    let expectedOffset = 0n;
    for (const info of tensorInfos) {
      expect(info.offset).toBe(expectedOffset);
      const bytes = info.shape.reduce((product, dim) => product * dim, 4n);
      expectedOffset += ((bytes + 31n) / 32n) * 32n;
    }
  });

  it("stores weight matrices as F16 but keeps norms in F32", async () => {
    const { tensorInfos, typedMetadata } = await parseGguf(generateTinyLlama({ tensorType: "f16" }));
    expect(typedMetadata["general.file_type"]?.value).toBe(1);
    for (const info of tensorInfos) {
      expect([info.name, info.dtype]).toEqual([info.name, info.name.includes("norm") ? 0 : 1]);
    }
  });

  it("is byte-identical per seed and differs between seeds", () => {
    // Buffer.equals: vitest's deep equality is far too slow for megabytes.
    const generate = (options: TinyLlamaOptions) => Buffer.from(generateTinyLlama(options));
    const a = generate({ seed: 7 });
    expect(generate({ seed: 7 }).equals(a)).toBe(true);
    const b = generate({ seed: 8 });
    expect(b.length).toBe(a.length);
    expect(b.equals(a)).toBe(false);
    expect(generate({ seed: 7, tensorType: "f16" }).equals(generate({ seed: 7, tensorType: "f16" }))).toBe(true);
  });

  it("writes spread-out weights, norms of one and zero logits for non-normal tokens", async () => {
    const bytes = generateTinyLlama({ seed: 3 });
    const { tensorInfos, tensorDataOffset } = await parseGguf(bytes);
    const vocab = buildLlamaVocab();
    const data = (name: string) => {
      const info = tensorInfos.find((tensor) => tensor.name === name)!;
      const elements = Number(info.shape.reduce((product, dim) => product * dim, 1n));
      return new Float32Array(bytes.slice(Number(tensorDataOffset + info.offset)).buffer, 0, elements);
    };
    const std = (values: Float32Array) => Math.sqrt(values.reduce((sum, v) => sum + v * v, 0) / values.length);

    expect(data("output_norm.weight").every((v) => v === 1)).toBe(true);
    expect(std(data("blk.0.attn_q.weight"))).toBeCloseTo(1 / 8, 2); // 1/sqrt(n_embd)
    expect(std(data("token_embd.weight"))).toBeCloseTo(1, 1);
    const output = data("output.weight");
    vocab.tokenTypes.forEach((type, id) => {
      const row = output.subarray(id * 64, (id + 1) * 64);
      expect([id, row.some((v) => v !== 0)]).toEqual([id, type === TokenType.normal]);
    });
  });

  it("writes a qwen2 variant: same tensors, qwen2 metadata keys", async () => {
    const options: TinyLlamaOptions = { architecture: "qwen2", nLayer: 1, nEmbd: 32, nHead: 4, nHeadKv: 2, nFf: 48 };
    const { typedMetadata, tensorInfos } = await parseGguf(generateTinyLlama(options));
    expect(typedMetadata["general.architecture"]?.value).toBe("qwen2");
    const archKeys = Object.keys(EXPECTED_KEYS).filter((key) => key.startsWith("llama."));
    for (const key of archKeys)
      expect(typedMetadata[key.replace(/^llama\./, "qwen2.")]?.type).toBe(EXPECTED_KEYS[key]![0]);
    expect(Object.keys(typedMetadata).some((key) => key.startsWith("llama."))).toBe(false);
    expect(typedMetadata["qwen2.attention.head_count_kv"]?.value).toBe(2);
    const llama = await parseGguf(generateTinyLlama({ ...options, architecture: "llama" }));
    expect(tensorInfos.map((t) => [t.name, t.shape])).toEqual(llama.tensorInfos.map((t) => [t.name, t.shape]));
  });

  it("stores q/k reordered for llama's RoPE from the Hugging Face order when asked", async () => {
    const options: TinyLlamaOptions = { seed: 5, nLayer: 1, nEmbd: 16, nHead: 2, nHeadKv: 1, nFf: 24 };
    const plain = await readF32Tensors(generateTinyLlama(options));
    const reordered = await readF32Tensors(generateTinyLlama({ ...options, rotaryReorder: true }));
    expect(reordered.get("blk.0.attn_q.weight")).toEqual(
      permuteForLlamaRope(plain.get("blk.0.attn_q.weight")!, 16, 16, 2),
    );
    expect(reordered.get("blk.0.attn_k.weight")).toEqual(
      permuteForLlamaRope(plain.get("blk.0.attn_k.weight")!, 8, 16, 1),
    );
    expect(reordered.get("blk.0.attn_q.weight")).not.toEqual(plain.get("blk.0.attn_q.weight"));
    for (const name of ["blk.0.attn_v.weight", "blk.0.ffn_down.weight", "token_embd.weight", "output.weight"]) {
      expect(reordered.get(name)).toEqual(plain.get(name));
    }
    // qwen2 uses NEOX RoPE: llama.cpp never reorders it.
    const qwen2 = { ...options, architecture: "qwen2" } as const;
    expect(
      Buffer.from(generateTinyLlama({ ...qwen2, rotaryReorder: true })).equals(Buffer.from(generateTinyLlama(qwen2))),
    ).toBe(true);
  });

  it("lets editWeights change 2-D weights in Hugging Face layout, before the reorder", async () => {
    const options: TinyLlamaOptions = { seed: 5, nLayer: 1, nEmbd: 16, nHead: 2, nFf: 24, rotaryReorder: true };
    const seen: [string, number, number][] = [];
    const edited = await readF32Tensors(
      generateTinyLlama({
        ...options,
        editWeights: (name, weights, rows, columns) => {
          seen.push([name, rows, columns]);
          if (name === "blk.0.attn_q.weight") weights.fill(0).fill(1, 0, columns); // row 0 (HF order) = 1
          if (name === "blk.0.ffn_down.weight") weights[columns] = 42; // row 1, column 0
        },
      }),
    );
    const vocab = buildLlamaVocab().tokens.length;
    expect(seen).toEqual([
      ["token_embd.weight", vocab, 16],
      ["blk.0.attn_q.weight", 16, 16],
      ["blk.0.attn_k.weight", 16, 16],
      ["blk.0.attn_v.weight", 16, 16],
      ["blk.0.attn_output.weight", 16, 16],
      ["blk.0.ffn_gate.weight", 24, 16],
      ["blk.0.ffn_up.weight", 24, 16],
      ["blk.0.ffn_down.weight", 16, 24],
      ["output.weight", vocab, 16],
    ]);
    // HF row 0 of q is head 0's first row, which the reorder keeps at row 0.
    const q = edited.get("blk.0.attn_q.weight")!;
    expect(Array.from(q.subarray(0, 16)).every((v) => v === 1)).toBe(true);
    expect(q.subarray(16).every((v) => v === 0)).toBe(true);
    expect(edited.get("blk.0.ffn_down.weight")![24]).toBe(42);
  });

  it("validates the shape options", () => {
    expect(() => generateTinyLlama({ nEmbd: 60, nHead: 8 })).toThrow(/divisible by nHead/);
    expect(() => generateTinyLlama({ nEmbd: 36, nHead: 4 })).toThrow(/even head size/);
    expect(() => generateTinyLlama({ nHeadKv: 3 })).toThrow(/divide nHead/);
    expect(() => generateTinyLlama({ nLayer: 0 })).toThrow(/nLayer/);
    expect(() => generateTinyLlama({ seed: -1 })).toThrow(/seed/);
    expect(() => generateTinyLlama({ extraTokens: ["</s>"] })).toThrow(/already in the vocabulary/);
  });

  it("describes a ~60M-parameter benchmark model without generating it", () => {
    expect(tinyLlamaParameterCount(BENCHMARK_LLAMA_OPTIONS)).toBeGreaterThan(50e6);
    expect(tinyLlamaParameterCount(BENCHMARK_LLAMA_OPTIONS)).toBeLessThan(65e6);
    expect(tinyLlamaMetadata(BENCHMARK_LLAMA_OPTIONS)["general.file_type"]).toEqual({ type: "uint32", value: 1 });
  });
});

describe("buildLlamaVocab", () => {
  const vocab = buildLlamaVocab();

  it("starts with the special and byte tokens of the LLaMA SentencePiece layout", () => {
    expect(vocab.tokens.slice(0, 3)).toEqual(["<unk>", "<s>", "</s>"]);
    expect(Array.from(vocab.tokenTypes.slice(0, 3))).toEqual([TokenType.unknown, TokenType.control, TokenType.control]);
    expect(vocab.tokens[3]).toBe("<0x00>");
    expect(vocab.tokens[3 + 0x0a]).toBe("<0x0A>"); // llama.cpp's newline token
    expect(vocab.tokens[258]).toBe("<0xFF>");
    expect(vocab.tokenTypes.slice(3, 259).every((type) => type === TokenType.byte)).toBe(true);
  });

  it("has unique tokens (llama.cpp aborts otherwise) and non-increasing scores", () => {
    expect(new Set(vocab.tokens).size).toBe(vocab.tokens.length);
    expect(vocab.scores.every((score, i) => i === 0 || score <= vocab.scores[i - 1]!)).toBe(true);
  });

  it("contains every intermediate piece of its words so SPM merges reach whole words", () => {
    for (const piece of ["▁", "a", "▁a", "!", "▁!", "▁the", "▁th", "he", "the", "▁Hello", "ello", "▁world"]) {
      expect(vocab.tokens).toContain(piece);
    }
  });
});
