import type { VocabModelArchitecture } from "@slm/testkit";

/**
 * The fidelity matrix: real vocabularies and real chat templates from the llama.cpp source node-llama-cpp bundles, in
 * random-weight models of the families' own layouts, and the requests each one is served. `pnpm fidelity:record`
 * records llama-server's answers into goldens/; fidelity.test.ts serves the same models and compares.
 */
export interface FidelityModel {
  /** Names the golden file. */
  id: string;
  /**
   * `models/ggml-vocab-<vocab>.gguf` in the llama.cpp source, or "tiny": the testkit's byte vocabulary with
   * `extraTokens` as control tokens (for tags that are one token, which no bundled vocabulary has for `<think>`).
   */
  vocab: string;
  extraTokens?: readonly string[];
  /** Tokens (by text) the model emits now and then, with their logit scale (see generateVocabModel). */
  favour?: ReadonlyArray<{ token: string; scale: number }>;
  /** Default 16. */
  maxTokens?: number;
  architecture: VocabModelArchitecture;
  /** `models/templates/<template>` in the llama.cpp source. */
  template: string;
  tensorType: "f16" | "q8_0";
  /** Cases beyond the common ones. */
  extra?: readonly FidelityCaseName[];
  /** Template variables every chat case passes (e.g. a fixed date for templates that print today's date). */
  kwargs?: Readonly<Record<string, unknown>>;
}

export type FidelityCaseName =
  | "one-user"
  | "system-user"
  | "multi-turn"
  | "non-ascii"
  | "content-parts"
  | "tools"
  | "tool-round-trip"
  | "tool-choice-none"
  | "thinking-off"
  | "reasoning-none"
  | "logprobs"
  | "completion";

export interface FidelityCase {
  name: FidelityCaseName;
  route: "chat" | "completion";
  body: Record<string, unknown>;
}

export const FIDELITY_MODELS: readonly FidelityModel[] = [
  {
    id: "llama-3.2",
    vocab: "llama-bpe",
    architecture: "llama",
    template: "meta-llama-Llama-3.2-3B-Instruct.jinja",
    tensorType: "f16",
    extra: ["tools", "tool-round-trip", "logprobs"],
    kwargs: { date_string: "03 Dec 2026" },
  },
  {
    id: "llama-3.1-q8_0",
    vocab: "llama-bpe",
    architecture: "llama",
    template: "meta-llama-Llama-3.1-8B-Instruct.jinja",
    tensorType: "q8_0",
    kwargs: { date_string: "03 Dec 2026" },
  },
  {
    id: "qwen2.5",
    vocab: "qwen2",
    architecture: "qwen2",
    template: "Qwen-Qwen2.5-7B-Instruct.jinja",
    tensorType: "f16",
    extra: ["tools", "tool-round-trip", "tool-choice-none"],
  },
  {
    id: "qwen2.5-q8_0",
    vocab: "qwen2",
    architecture: "qwen2",
    template: "Qwen-Qwen2.5-7B-Instruct.jinja",
    tensorType: "q8_0",
    extra: ["logprobs"],
  },
  {
    id: "qwen3",
    vocab: "qwen35",
    architecture: "qwen3",
    template: "Qwen-Qwen3-0.6B.jinja",
    tensorType: "f16",
    extra: ["tools", "thinking-off", "tool-round-trip"],
  },
  {
    id: "phi-3.5",
    vocab: "phi-3",
    architecture: "phi3",
    template: "microsoft-Phi-3.5-mini-instruct.jinja",
    tensorType: "f16",
  },
  {
    id: "smollm3",
    vocab: "llama-bpe",
    architecture: "llama",
    template: "HuggingFaceTB-SmolLM3-3B.jinja",
    tensorType: "f16",
    extra: ["thinking-off"],
  },
  {
    id: "deepseek-r1-distill",
    vocab: "llama-bpe",
    architecture: "llama",
    template: "deepseek-ai-DeepSeek-R1-Distill-Llama-8B.jinja",
    tensorType: "f16",
    extra: ["reasoning-none"],
  },
  {
    id: "gemma-2",
    vocab: "llama-spm",
    architecture: "gemma3",
    template: "google-gemma-2-2b-it.jinja",
    tensorType: "f16",
    extra: ["logprobs"],
  },
  {
    id: "gemma-4",
    vocab: "gemma-4",
    architecture: "gemma3",
    template: "google-gemma-4-31B-it.jinja",
    tensorType: "q8_0",
    extra: ["thinking-off", "reasoning-none"],
  },
  {
    id: "mistral-nemo",
    vocab: "llama-spm",
    architecture: "llama",
    template: "mistralai-Mistral-Nemo-Instruct-2407.jinja",
    tensorType: "q8_0",
    extra: ["tools", "tool-round-trip"],
  },
  // A reasoning model that closes its thinking and ends its turn mid-answer, with both tags as single tokens.
  {
    id: "qwq-think-tokens",
    vocab: "tiny",
    extraTokens: ["<|im_start|>", "<|im_end|>", "<think>", "</think>"],
    favour: [
      { token: "</think>", scale: 2 },
      { token: "<|im_end|>", scale: 1.6 },
    ],
    architecture: "qwen3",
    template: "Qwen-QwQ-32B.jinja",
    tensorType: "f16",
    maxTokens: 48,
    extra: ["reasoning-none"],
  },
];

const WEATHER_TOOL = {
  type: "function",
  function: {
    name: "get_weather",
    description: "Current weather for a city.",
    parameters: {
      type: "object",
      properties: { city: { type: "string", description: "City name" } },
      required: ["city"],
    },
  },
};

/** A call and its result in the history (the id is 9 alphanumerics: Mistral's templates refuse any other). */
const TOOL_ROUND_TRIP = [
  { role: "user", content: "What is the weather in Paris?" },
  {
    role: "assistant",
    content: null,
    tool_calls: [
      { id: "a1b2c3d4e", type: "function", function: { name: "get_weather", arguments: '{"city": "Paris"}' } },
    ],
  },
  { role: "tool", tool_call_id: "a1b2c3d4e", content: '{"temperature": 21, "sky": "clear"}' },
];

/** The requests one model is served: the common cases, then its extras. Greedy, so both servers must agree exactly. */
export function casesFor(model: FidelityModel): FidelityCase[] {
  const maxTokens = model.maxTokens ?? 16;
  const chat = (name: FidelityCaseName, body: Record<string, unknown>): FidelityCase => ({
    name,
    route: "chat",
    body: {
      max_tokens: maxTokens,
      temperature: 0,
      ...body,
      ...(model.kwargs || body["chat_template_kwargs"]
        ? { chat_template_kwargs: { ...model.kwargs, ...(body["chat_template_kwargs"] as object | undefined) } }
        : {}),
    },
  });
  const cases: FidelityCase[] = [
    chat("one-user", { messages: [{ role: "user", content: "Hello! What is the capital of France?" }] }),
    chat("system-user", {
      messages: [
        { role: "system", content: "You are a concise assistant." },
        { role: "user", content: "Name three colors." },
      ],
    }),
    chat("multi-turn", {
      messages: [
        { role: "user", content: "My name is Ada." },
        { role: "assistant", content: "Nice to meet you, Ada!" },
        { role: "user", content: "What is my name?" },
      ],
    }),
    chat("non-ascii", {
      messages: [{ role: "user", content: "Привет! 你好，世界。¿Qué tal? Ünïcödé ✓ 🙂 naïve café" }],
    }),
    chat("content-parts", {
      messages: [
        {
          role: "user",
          content: [
            { type: "text", text: "First part." },
            { type: "text", text: "Second part." },
          ],
        },
      ],
    }),
    {
      name: "completion",
      route: "completion",
      body: { prompt: "The quick brown fox", max_tokens: maxTokens, temperature: 0 },
    },
  ];
  for (const extra of model.extra ?? []) {
    if (extra === "tools")
      cases.push(
        chat("tools", {
          messages: [{ role: "user", content: "What is the weather in Paris?" }],
          tools: [WEATHER_TOOL],
        }),
      );
    // llama-server renders the tools whatever the tool_choice; with "none" it only leaves the answer as text.
    if (extra === "tool-choice-none")
      cases.push(
        chat("tool-choice-none", {
          messages: [{ role: "user", content: "What is the weather in Paris?" }],
          tools: [WEATHER_TOOL],
          tool_choice: "none",
        }),
      );
    if (extra === "tool-round-trip")
      cases.push(chat("tool-round-trip", { messages: TOOL_ROUND_TRIP, tools: [WEATHER_TOOL] }));
    if (extra === "thinking-off") {
      cases.push(
        chat("thinking-off", {
          messages: [{ role: "user", content: "Hello! What is the capital of France?" }],
          chat_template_kwargs: { enable_thinking: false },
        }),
      );
    }
    if (extra === "logprobs") {
      // The one-user conversation (its greedy answer is checked too), with logprobs. Asked first, on a fresh
      // sequence: logprobs depend (by ~1e-3 on these random f16 weights) on which prefix a server's cache reused,
      // and a fresh prompt is what both servers evaluate alike.
      cases.unshift(
        chat("logprobs", {
          messages: [{ role: "user", content: "Hello! What is the capital of France?" }],
          logprobs: true,
          top_logprobs: 5,
        }),
      );
    }
    if (extra === "reasoning-none") {
      cases.push(
        chat("reasoning-none", {
          messages: [{ role: "user", content: "Hello! What is the capital of France?" }],
          reasoning_format: "none",
        }),
      );
    }
  }
  return cases;
}

/** What a server answered to one case: the prompt it built and its greedy answer. */
export interface FidelityAnswer {
  case: FidelityCaseName;
  /** The rendered prompt (chat cases). */
  promptText?: string;
  promptTokens: number[];
  content: string;
  reasoningContent?: string;
  /** The calls the answer was parsed into (name and arguments; ids are random), when it made any. */
  toolCalls?: Array<{ name: string; arguments: string }>;
  finishReason: string;
  completionTokens: number;
  /** Cases that ask for logprobs: per generated token, its id and logprob and the top alternatives'. */
  logprobs?: TokenLogprobs[];
}

export interface TokenLogprobs {
  id: number;
  logprob: number;
  /** The token's UTF-8 bytes (raw, also for a token holding part of a character). */
  bytes: number[];
  top: Array<{ id: number; logprob: number; bytes: number[] }>;
}

export interface FidelityGolden {
  model: FidelityModel;
  /** How the answers were produced (llama-server's version line), for the reader. */
  recordedWith: string;
  answers: FidelityAnswer[];
}
