// Loads generated models into llama.cpp through node-llama-cpp. Skipped when
// node-llama-cpp (a native addon) cannot be imported on this machine.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateTinyLlama, type TinyLlamaOptions } from "./tiny-llama.ts";

const nodeLlamaCpp = await import("node-llama-cpp").catch(() => undefined);

const CHATML_TEMPLATE =
  "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

describe.skipIf(!nodeLlamaCpp)("tiny llama in node-llama-cpp", { timeout: 60_000 }, () => {
  const { getLlama, LlamaChatSession, LlamaCompletion } = nodeLlamaCpp!;
  let llama: Awaited<ReturnType<typeof getLlama>>;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "tiny-llama-"));
    llama = await getLlama({ gpu: false, build: "never", logLevel: nodeLlamaCpp!.LlamaLogLevel.error });
  });

  afterAll(async () => {
    await llama?.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  async function loadModel(fileName: string, options: TinyLlamaOptions) {
    const modelPath = join(dir, fileName);
    await writeFile(modelPath, generateTinyLlama(options));
    return llama.loadModel({ modelPath });
  }

  /** Greedy completion in a fresh context; threads: 1 because the default is very slow on small CPUs. */
  async function complete(model: Awaited<ReturnType<typeof loadModel>>, prompt: string): Promise<string> {
    const context = await model.createContext({ contextSize: 256, threads: 1 });
    try {
      const completion = new LlamaCompletion({ contextSequence: context.getSequence() });
      return await completion.generateCompletion(prompt, { maxTokens: 10, temperature: 0 });
    } finally {
      await context.dispose();
    }
  }

  it("generates the same non-empty text for the same seed", async () => {
    const first = await loadModel("a.gguf", { seed: 11 });
    const second = await loadModel("b.gguf", { seed: 11 });
    try {
      expect(first.tokenize("Hello world").length).toBe(2); // "▁Hello", "▁world"
      const text = await complete(first, "The model says");
      expect(text.trim()).not.toBe("");
      expect(new Set(first.tokenize(text)).size).toBeGreaterThan(1);
      expect(await complete(second, "The model says")).toBe(text);
    } finally {
      await first.dispose();
      await second.dispose();
    }
  });

  it("loads and generates with the qwen2 variant", async () => {
    const model = await loadModel("qwen2.gguf", { seed: 11, architecture: "qwen2", nHeadKv: 2 });
    try {
      expect(model.fileInfo.metadata.general.architecture).toBe("qwen2");
      const text = await complete(model, "The model says");
      expect(new Set(model.tokenize(text)).size).toBeGreaterThan(1);
    } finally {
      await model.dispose();
    }
  });

  it("chats through the model's own chat template", async () => {
    const model = await loadModel("chat.gguf", {
      seed: 5,
      chatTemplate: CHATML_TEMPLATE,
      extraTokens: ["<|im_start|>", "<|im_end|>"],
    });
    const context = await model.createContext({ contextSize: 256, threads: 1 });
    try {
      const session = new LlamaChatSession({ contextSequence: context.getSequence() });
      const answer = await session.prompt("Hi, who are you?", { maxTokens: 8, temperature: 0 });
      expect(answer.trim()).not.toBe("");
      expect(model.fileInfo.metadata.tokenizer.chat_template).toBe(CHATML_TEMPLATE);
    } finally {
      await context.dispose();
      await model.dispose();
    }
  });
});
