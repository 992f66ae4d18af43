import type { ChatHistoryItem } from "node-llama-cpp";
import { messageText, type ChatCompletionRequest } from "@slm/config";
import type { Engine } from "./load-engine.ts";
import type { ChosenTemplate } from "./chat-template.ts";
import { prepareGeneration, type PrepareGenerationOptions, type PreparedGeneration } from "./prepare-generation.ts";

export type ChatInput = Pick<ChatCompletionRequest, "messages"> & PrepareGenerationOptions["params"];

/** Renders the messages with the chosen chat template, tokenizes them and prepares the generation. */
export async function prepareChat(engine: Engine, template: ChosenTemplate, request: ChatInput): Promise<PreparedGeneration> {
  const history: ChatHistoryItem[] = request.messages.map((m): ChatHistoryItem => {
    const text = messageText(m);
    if (m.role === "assistant") return { type: "model", response: [text] };
    if (m.role === "user") return { type: "user", text };
    return { type: "system", text };
  });
  history.push({ type: "model", response: [] });
  const state = template.wrapper.generateContextState({ chatHistory: history });
  return prepareGeneration(engine, {
    prompt: state.contextText.tokenize(engine.model.tokenizer),
    params: request,
    formatStops: [...state.stopGenerationTriggers, ...template.extraStops],
    promptField: "messages",
  });
}
