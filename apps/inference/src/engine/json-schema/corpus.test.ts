import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Ajv, type AnySchema } from "ajv";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";
import { getLlama, LlamaCompletion, LlamaLogLevel, type LlamaModel } from "node-llama-cpp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateVocabModel, llamaSourcePath, readTokenizerMetadata } from "@slm/testkit";
import { GrammarCache } from "../grammar.ts";
import { corpus } from "./corpus/index.ts";

/**
 * SLOW-ISH (about a minute on 2 cores): every corpus schema (zod 4, Pydantic v2, Vercel AI SDK) through the whole
 * response_format path (limits, converter, llama.cpp's grammar), sampled with two seeds on a random-weight model
 * with a real tokenizer (llama's SentencePiece vocabulary), each output parsed and validated with ajv + ajv-formats.
 * The model favours tokens made of `"`, `}`, `]`, `,` and digits, so that strings and containers close and every
 * sample ends with the grammar's stop trigger well within max tokens; everything else about the output is random,
 * which is what finds a grammar that lets an invalid value through.
 */
const addFormats = addFormatsModule as unknown as (ajv: Ajv | Ajv2020) => void;
const SEEDS = [1, 2];

let dir: string;
let model: LlamaModel;
let completion: LlamaCompletion;
let grammars: GrammarCache;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "json-schema-corpus-"));
  const tokenizer = await readTokenizerMetadata(await llamaSourcePath("models/ggml-vocab-llama-spm.gguf"));
  const tokens = (tokenizer["tokenizer.ggml.tokens"] as unknown as { value: string[] }).value;
  const favour = tokens.flatMap((text, token) => {
    const t = text.replace(/\u2581/g, " ").trim();
    return t.length > 0 && t.length <= 3 && /^["}\],0-9]+$/.test(t) && /["}\]]/.test(t) ? [{ token, scale: 3 }] : [];
  });
  const path = join(dir, "llama-spm-vocab.gguf");
  await writeFile(
    path,
    generateVocabModel({ tokenizer, architecture: "llama", seed: 7, nEmbd: 64, nLayer: 1, favour }),
  );
  const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error, progressLogs: false });
  model = await llama.loadModel({ modelPath: path });
  const context = await model.createContext({ contextSize: 2048, sequences: 1, threads: 2 });
  completion = new LlamaCompletion({ contextSequence: context.getSequence() });
  grammars = new GrammarCache({ llama });
}, 60_000);

afterAll(async () => {
  await model?.dispose();
  await rm(dir, { recursive: true, force: true });
});

function validator(schema: Record<string, unknown>) {
  const draft7 = String(schema.$schema ?? "").includes("draft-07");
  const ajv = draft7 ? new Ajv({ strict: false, allErrors: true }) : new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  return ajv.compile(schema as AnySchema);
}

describe("corpus schemas: sampled outputs validate with ajv", () => {
  it.each(Object.entries(corpus))("%s", { timeout: 60_000 }, async (_, schema) => {
    const validate = validator(schema);
    const grammar = await grammars.grammarFor({ type: "json_schema", json_schema: { name: "x", schema } });
    for (const seed of SEEDS) {
      const { response, metadata } = await completion.generateCompletionWithMeta("JSON:", {
        grammar,
        maxTokens: 300,
        temperature: 1,
        seed,
      });
      expect(metadata.stopReason, response).toBe("stopGenerationTrigger");
      const value = JSON.parse(response) as unknown;
      expect(validate(value), `seed ${seed}: ${response}\n${JSON.stringify(validate.errors)}`).toBe(true);
    }
  });
});
