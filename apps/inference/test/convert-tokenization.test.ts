// The converted tokenizer tokenizes like the original: a few hundred strings (code, emoji, CJK, whitespace runs,
// special tokens) give the same ids in llama.cpp (the converted GGUF, loaded vocabulary-only) as in
// @huggingface/tokenizers reading the model's own tokenizer.json.
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Tokenizer } from "@huggingface/tokenizers";
import {
  generateTransformersModel,
  llamaSourcePath,
  readRealTokenizer,
  readTokenizerMetadata,
  writeSentencePieceModel,
  type TokenizerFiles,
  type TransformersArchitecture,
} from "@slm/testkit";
import { getLlama, LlamaLogLevel, type Llama } from "node-llama-cpp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { convertTransformersToGguf } from "../src/convert/index.ts";

const BASE = [
  "Hello world",
  " Hello world",
  "hello   world",
  "  leading spaces",
  "trailing spaces   ",
  "tabs\tand\t\ttabs",
  "new\nlines\n\n\nand\r\nwindows",
  "    indented code",
  "function add(a, b) {\n  return a + b;\n}",
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a code sample to tokenize, not a template
  "const x = await fetch(`https://example.com/${id}`);",
  "def main():\n    print('hi')\n\n\nif __name__ == '__main__':\n    main()",
  "for (let i = 0; i < 10; i++) { sum += i * 2; }",
  '<div class="a">x</div>',
  "SELECT * FROM users WHERE id = 42;",
  "emoji 🚀🦙 and 😶‍🌫️ joined",
  "👍🏽 skin tone, 🇫🇷 flag, 👨‍👩‍👧 family",
  "我想在apple工作",
  "日本語のテキストです。",
  "한국어 문장입니다",
  "Привет, как дела?",
  "नमस्ते दुनिया",
  "مرحبا بالعالم",
  "ကာန់តែពិសេស",
  "numbers 3 33 333 3333 33333 1234567890",
  "3.14159 and 2,718 and 1e-10",
  "I've been 'told he's there, 'RE you sure? 'M not sure I'll make it",
  "We'Ve a'lL DON'T",
  "------======= ...... !!!!!! ??????",
  "'''''' ``````` \"\"\"\"",
  "mixed CASE words AND Acronyms like NASA",
  "email: someone@example.org, phone: +1-555-0100",
  "path/to/file.txt C:\\Windows\\System32",
  "a",
  " ",
  "\n",
  "  \n  \n",
  "\t\t\t",
  "x".repeat(40),
  "ab ".repeat(15),
  "Café naïve façade jalapeño",
  "ﬁ ligature and ① circled and Ⅻ roman",
  "zero\u200bwidth space and non\u00a0breaking",
];

/** A few hundred strings: the base list, pairs of it, and each wrapped in the tokenizer's special tokens. */
function corpus(special: readonly string[]): string[] {
  const out = [...BASE];
  for (let i = 0; i < BASE.length; i++)
    out.push(`${BASE[i]} ${BASE[(i * 7 + 3) % BASE.length]}`, `${BASE[i]}\n${BASE[(i * 5 + 1) % BASE.length]}`);
  for (let i = 0; i < BASE.length; i++) {
    const token = special[i % special.length]!;
    out.push(
      `${token}${BASE[i]}`,
      `${BASE[i]}${token}\n`,
      `${token}user\n${BASE[i]}${special[(i + 1) % special.length]}`,
    );
  }
  return out;
}

describe("converted tokenizers tokenize like the reference encoder", { timeout: 180_000 }, () => {
  let llama: Llama;
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "convert-tokenization-"));
    llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error, progressLogs: false });
  });
  afterAll(async () => {
    await llama?.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  async function check(
    name: string,
    architecture: TransformersArchitecture,
    tokenizer: TokenizerFiles | "synthetic",
    special: readonly string[],
  ) {
    const folder = join(dir, name);
    const model = await generateTransformersModel({
      architecture,
      dir: folder,
      tokenizer,
      dtype: "F32",
      hiddenSize: 32,
      numHeads: 2,
      numKvHeads: 1,
      numLayers: 1,
      intermediateSize: 32,
    });
    const files = Object.fromEntries((await readdir(folder)).map((file) => [file, join(folder, file)]));
    const path = join(dir, `${name}.gguf`);
    await convertTransformersToGguf({ files, outType: "f16", outPath: path });
    const converted = await llama.loadModel({ modelPath: path, vocabOnly: true });
    try {
      const reference = new Tokenizer(model.tokenizer.tokenizerJson, model.tokenizer.tokenizerConfig);
      const texts = corpus(special);
      expect(texts.length).toBeGreaterThan(150);
      const mismatches = texts
        .map((text) => ({
          text,
          ours: Array.from(converted.tokenize(text, true)),
          theirs: reference.encode(text, { add_special_tokens: false }).ids,
        }))
        .filter(({ ours, theirs }) => ours.join() !== theirs.join());
      expect(mismatches.slice(0, 3)).toEqual([]);
      return texts.length;
    } finally {
      await converted.dispose();
    }
  }

  it("Qwen3's tokenizer (pre qwen2)", async () => {
    const qwen = await readRealTokenizer("qwen3");
    expect(
      await check("qwen3", "Qwen3ForCausalLM", qwen, ["<|im_start|>", "<|im_end|>", "<|endoftext|>", "<think>"]),
    ).toBeGreaterThan(150);
  });

  it("Llama 3's tokenizer (pre llama-bpe, with the BOS post-processor Meta's repositories have)", async () => {
    const files = await readRealTokenizer("llama3");
    const json = files.tokenizerJson;
    const withBos: TokenizerFiles = {
      tokenizerConfig: files.tokenizerConfig,
      tokenizerJson: {
        ...json,
        post_processor: {
          type: "TemplateProcessing",
          single: [{ SpecialToken: { id: "<|begin_of_text|>", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }],
          pair: [
            { SpecialToken: { id: "<|begin_of_text|>", type_id: 0 } },
            { Sequence: { id: "A", type_id: 0 } },
            { SpecialToken: { id: "<|begin_of_text|>", type_id: 1 } },
            { Sequence: { id: "B", type_id: 1 } },
          ],
          special_tokens: {
            "<|begin_of_text|>": { id: "<|begin_of_text|>", ids: [128000], tokens: ["<|begin_of_text|>"] },
          },
        },
      },
    };
    await check("llama3", "LlamaForCausalLM", withBos, [
      "<|begin_of_text|>",
      "<|start_header_id|>",
      "<|end_header_id|>",
      "<|eot_id|>",
    ]);
  });

  it("the test kit's synthetic tokenizer (pre recognised by its regex)", async () => {
    await check("synthetic", "LlamaForCausalLM", "synthetic", ["<|im_start|>", "<|im_end|>", "<|begin_of_text|>"]);
  });

  it("a SentencePiece tokenizer.model (built from llama.cpp's llama-spm vocabulary) tokenizes like llama.cpp's own conversion", async () => {
    const referencePath = await llamaSourcePath("models/ggml-vocab-llama-spm.gguf");
    const vocab = await readTokenizerMetadata(referencePath);
    const tokens = vocab["tokenizer.ggml.tokens"]!.value as (string | Uint8Array)[];
    const scores = vocab["tokenizer.ggml.scores"]!.value as number[];
    const types = vocab["tokenizer.ggml.token_type"]!.value as number[];
    const special = (id: number, content: string) => ({
      id,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    });
    const folder = join(dir, "spm");
    await generateTransformersModel({
      architecture: "LlamaForCausalLM",
      dir: folder,
      dtype: "F32",
      hiddenSize: 32,
      numHeads: 2,
      numKvHeads: 1,
      numLayers: 1,
      intermediateSize: 32,
      vocabSize: tokens.length,
      tokenizerModel: writeSentencePieceModel(
        tokens.map((piece, i) => ({ piece, score: scores[i]!, type: types[i]! })),
      ),
      tokenizer: {
        tokenizerJson: {
          added_tokens: [special(0, "<unk>"), special(1, "<s>"), special(2, "</s>")],
          model: { type: "BPE", vocab: {}, merges: [] },
        },
        tokenizerConfig: {
          add_bos_token: true,
          add_eos_token: false,
          bos_token: "<s>",
          eos_token: "</s>",
          unk_token: "<unk>",
        },
      },
    });
    const files = Object.fromEntries((await readdir(folder)).map((file) => [file, join(folder, file)]));
    const path = join(dir, "spm.gguf");
    await convertTransformersToGguf({ files, outType: "f16", outPath: path });
    const [ours, theirs] = [
      await llama.loadModel({ modelPath: path, vocabOnly: true }),
      await llama.loadModel({ modelPath: referencePath, vocabOnly: true }),
    ];
    try {
      const texts = corpus(["<s>", "</s>"]);
      const mismatches = texts.filter(
        (text) => Array.from(ours.tokenize(text, true)).join() !== Array.from(theirs.tokenize(text, true)).join(),
      );
      expect(mismatches.slice(0, 3)).toEqual([]);
      expect(Array.from(ours.tokenize("Hello world")).length).toBeGreaterThan(1);
    } finally {
      await ours.dispose();
      await theirs.dispose();
    }
  });
});
