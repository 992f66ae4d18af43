import type { Token } from "node-llama-cpp";
import type { ChatCompletionRequest } from "@slm/config";
import type { Engine } from "./load-engine.ts";
import { tokenizePrompt, withBosEos, type ChatTemplate } from "./prompt/index.ts";
import { prepareGeneration, type PrepareGenerationOptions, type PreparedGeneration } from "./prepare-generation.ts";
import { forcedCallGrammar, lazyCallGrammar, planTools, type ToolPlan } from "./tools/index.ts";

export type ChatInput = Pick<ChatCompletionRequest, "messages"> &
  Partial<
    Pick<
      ChatCompletionRequest,
      "tools" | "tool_choice" | "parallel_tool_calls" | "chat_template_kwargs" | "logprobs" | "top_logprobs"
    >
  > &
  PrepareGenerationOptions["params"];

export interface PreparedChat extends PreparedGeneration {
  /** The rendered prompt text (what /apply-template shows). */
  promptText: string;
  /** What add_generation_prompt appended (the answer's parser needs it for templates that think); "" otherwise. */
  generationPrompt: string;
  /** How tool calls are read from the answer; undefined when it is plain text. */
  tools: ToolPlan | undefined;
}

/**
 * Renders the messages with the model's chat template, tokenizes the prompt (in one piece, unless the caller's text
 * holds control-token texts: see prompt/message-text.ts) and prepares the generation.
 */
export async function prepareChat(engine: Engine, template: ChatTemplate, request: ChatInput): Promise<PreparedChat> {
  // The caller's text is kept from becoming control tokens, unless ALLOW_SPECIAL_TOKENS_IN_MESSAGES.
  const tags = template.reasoningTags;
  const callerText = engine.messageText?.except(tags ? [tags.start.core, tags.end.core] : []).begin();
  const rendered = renderChat(template, request, true, callerText?.text);
  const promptText = callerText ? callerText.restore(rendered) : rendered;
  const prompt = callerText?.holds
    ? withBosEos(engine.model, callerText.tokenize(engine.model, rendered))
    : tokenizePrompt(engine.model, promptText);
  const tools = planTools(template.text, request);
  const generation = tags ? generationPrompt(template, request, promptText) : "";
  const grammar =
    tools &&
    (await forcedCallGrammar(
      engine.grammars,
      tools,
      request,
      tags ? { tags, generationPrompt: generation } : undefined,
    ));
  const prepared = await prepareGeneration(engine, {
    prompt,
    params: request,
    formatStops: template.extraStops,
    promptField: "messages",
    logprobs: request.logprobs === true ? (request.top_logprobs ?? 0) : undefined,
    ...(grammar ? { grammar } : {}),
  });
  // Under auto, a call's arguments follow its schema once the model wrote the call marker (when it is one token).
  const lazy = tools && !prepared.grammar ? await lazyCallGrammar(engine.grammars, tools, request) : undefined;
  const [lazyTrigger] = lazy ? singleTokens(engine, [lazy.trigger]) : [];
  // Control tokens the answer's parsers must see as text: the thinking tags, and the call markers when tools are on.
  const preserve = [...(tags?.preserve ?? []), ...(tools?.format.preserve ?? [])];
  return {
    ...prepared,
    promptText,
    generationPrompt: generation,
    tools,
    ...(lazy && lazyTrigger !== undefined ? { lazyGrammar: { trigger: lazyTrigger, grammar: lazy.grammar } } : {}),
    ...(preserve.length > 0 ? { preservedTokens: singleTokens(engine, preserve) } : {}),
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

type TemplateInput = Pick<ChatInput, "messages" | "tools" | "chat_template_kwargs">;

/**
 * The prompt text for a chat request. Tools are rendered whatever the tool_choice, as llama-server renders them
 * (with "none" the model sees them but its answer is not read as calls).
 */
export function renderChat(
  template: ChatTemplate,
  request: TemplateInput,
  addGenerationPrompt = true,
  callerText?: (value: string) => string,
): string {
  return template.render({
    callerText,
    messages: request.messages.map((m) => ({
      role: m.role,
      content: m.content,
      name: m.name,
      tool_calls: m.tool_calls,
      tool_call_id: m.tool_call_id,
    })),
    tools: request.tools ?? undefined,
    kwargs: request.chat_template_kwargs ?? undefined,
    addGenerationPrompt,
  });
}

/** The difference between the prompt with and without the generation prompt, as llama.cpp computes it. */
function generationPrompt(template: ChatTemplate, request: TemplateInput, prompt: string): string {
  const conversation = renderChat(template, request, false);
  return prompt.startsWith(conversation) ? prompt.slice(conversation.length) : "";
}
