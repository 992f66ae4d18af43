import { getLlama, LlamaLogLevel, type Llama, type LlamaContext, type LlamaModel, type Token } from "node-llama-cpp";

/**
 * The served GGUF loaded in the test process with node-llama-cpp directly (not through the app's engine): the
 * reference for "same tokens as the tokenizer says" and "same output as generating alone".
 */
export interface ReferenceModel {
  model: LlamaModel;
  /** What llama.cpp feeds for a raw prompt: BOS (when the model wants it) + the tokenizer's tokens. */
  promptTokens(prompt: string): Token[];
  /** Greedy tokens after `prompt`, until `maxTokens` or until the decoded text contains `stop`. */
  greedy(prompt: Token[], maxTokens: number, stop?: string): Promise<{ tokens: Token[]; text: string }>;
  dispose(): Promise<void>;
}

export async function loadReference(modelPath: string): Promise<ReferenceModel> {
  const llama: Llama = await getLlama({ gpu: false, build: "never", maxThreads: 1, logLevel: LlamaLogLevel.error });
  const model = await llama.loadModel({ modelPath });
  const context: LlamaContext = await model.createContext({ contextSize: 512, threads: 1 });
  const sequence = context.getSequence();
  return {
    model,
    promptTokens: (prompt) => {
      const tokens = model.tokenize(prompt, true);
      const bos = model.tokens.bos;
      return bos != null && model.tokens.shouldPrependBosToken && tokens[0] !== bos ? [bos, ...tokens] : tokens;
    },
    greedy: async (prompt, maxTokens, stop) => {
      await sequence.clearHistory();
      const tokens: Token[] = [];
      for await (const token of sequence.evaluate(prompt, { temperature: 0 })) {
        tokens.push(token);
        if (tokens.length >= maxTokens) break;
        if (stop !== undefined && model.detokenize(tokens, false, prompt.slice(-8)).includes(stop)) break;
      }
      return { tokens, text: model.detokenize(tokens, false, prompt.slice(-8)) };
    },
    dispose: async () => {
      await context.dispose();
      await model.dispose();
      await llama.dispose();
    },
  };
}
