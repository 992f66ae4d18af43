import type { Token } from "node-llama-cpp";
import type { ChatCompletionRequest } from "@slm/config";
import type { Engine } from "./load-engine.ts";
import { tokenizePrompt, type ChatTemplate } from "./prompt/index.ts";
import { prepareGeneration, type PrepareGenerationOptions, type PreparedGeneration } from "./prepare-generation.ts";

export type ChatInput = Pick<ChatCompletionRequest, "messages"> &
  Partial<Pick<ChatCompletionRequest, "tools" | "tool_choice" | "chat_template_kwargs" | "logprobs" | "top_logprobs">> &
  PrepareGenerationOptions["params"];

export interface PreparedChat extends PreparedGeneration {
  /** The rendered prompt text (what /apply-template shows). */
  promptText: string;
  /** What add_generation_prompt appended (the answer's parser needs it for templates that think); "" otherwise. */
  generationPrompt: string;
}

/** Renders the messages with the model's chat template, tokenizes the prompt in one piece and prepares the generation. */
export async function prepareChat(engine: Engine, template: ChatTemplate, request: ChatInput): Promise<PreparedChat> {
  const promptText = renderChat(template, request);
  const prepared = await prepareGeneration(engine, {
    prompt: tokenizePrompt(engine.model, promptText),
    params: request,
    formatStops: template.extraStops,
    promptField: "messages",
    logprobs: request.logprobs === true ? (request.top_logprobs ?? 0) : undefined,
  });
  const tags = template.reasoningTags;
  if (!tags) return { ...prepared, promptText, generationPrompt: "" };
  return {
    ...prepared,
    promptText,
    generationPrompt: generationPrompt(template, request, promptText),
    preservedTokens: singleTokens(engine, tags.preserve),
  };
}

/** The texts that are one token of the vocabulary (llama-server preserves only those). */
function singleTokens(engine: Engine, texts: readonly string[]): ReadonlySet<Token> {
  const tokens = new Set<Token>();
  for (const text of texts) {
    const ids = engine.model.tokenize(text, true);
    if (ids.length === 1) tokens.add(ids[0]!);
  }
  return tokens;
}

type TemplateInput = Pick<ChatInput, "messages" | "tools" | "tool_choice" | "chat_template_kwargs">;

/** The prompt text for a chat request. `tool_choice: "none"` renders without tools. */
export function renderChat(template: ChatTemplate, request: TemplateInput, addGenerationPrompt = true): string {
  return template.render({
    messages: request.messages.map((m) => ({ role: m.role, content: m.content, name: m.name })),
    tools: request.tool_choice === "none" ? undefined : (request.tools ?? undefined),
    kwargs: request.chat_template_kwargs ?? undefined,
    addGenerationPrompt,
  });
}

/** The difference between the prompt with and without the generation prompt, as llama.cpp computes it. */
function generationPrompt(template: ChatTemplate, request: TemplateInput, prompt: string): string {
  const conversation = renderChat(template, request, false);
  return prompt.startsWith(conversation) ? prompt.slice(conversation.length) : "";
}
