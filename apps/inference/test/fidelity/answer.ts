import type { FidelityAnswer, FidelityCase, TokenLogprobs } from "./cases.ts";

/**
 * Asks a server (llama-server when recording, inference when testing) what one case becomes, the same way for both:
 * the rendered prompt (/apply-template), its ids as a chat request evaluates them (/tokenize with add_special and
 * parse_special, which is what both servers' chat routes do), and the greedy answer. `usagePromptTokens` is what the
 * answer's usage says, for the caller to check against the ids.
 */
export async function answerCase(
  url: string,
  fidelityCase: FidelityCase,
): Promise<FidelityAnswer & { usagePromptTokens: number }> {
  const post = async (path: string, body: unknown) => {
    const response = await fetch(`${url}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    const json = (await response.json()) as Record<string, any>;
    if (!response.ok) throw new Error(`${path}: ${response.status} ${JSON.stringify(json)}`);
    return json;
  };
  if (fidelityCase.route === "completion") {
    const { tokens } = await post("/tokenize", {
      content: fidelityCase.body["prompt"],
      add_special: true,
      parse_special: true,
    });
    const completion = await post("/v1/completions", fidelityCase.body);
    return {
      case: fidelityCase.name,
      promptTokens: tokens,
      content: completion["choices"][0].text,
      finishReason: completion["choices"][0].finish_reason,
      completionTokens: completion["usage"].completion_tokens,
      usagePromptTokens: completion["usage"].prompt_tokens,
    };
  }
  const { prompt } = await post("/apply-template", fidelityCase.body);
  const { tokens } = await post("/tokenize", { content: prompt, add_special: true, parse_special: true });
  const chat = await post("/v1/chat/completions", fidelityCase.body);
  const message = chat["choices"][0].message;
  return {
    case: fidelityCase.name,
    promptText: prompt,
    promptTokens: tokens,
    content: message.content ?? "",
    ...(message.reasoning_content ? { reasoningContent: message.reasoning_content } : {}),
    ...(message.tool_calls?.length
      ? {
          toolCalls: (message.tool_calls as Array<{ function: { name: string; arguments: string } }>).map((c) => ({
            name: c.function.name,
            arguments: c.function.arguments,
          })),
        }
      : {}),
    finishReason: chat["choices"][0].finish_reason,
    completionTokens: chat["usage"].completion_tokens,
    usagePromptTokens: chat["usage"].prompt_tokens,
    ...(fidelityCase.body["logprobs"] ? { logprobs: tokenLogprobs(chat["choices"][0].logprobs?.content ?? []) } : {}),
  };
}

/** The ids and values of chat logprobs (both servers send each token's `id` beside OpenAI's fields). */
function tokenLogprobs(content: Array<Record<string, any>>): TokenLogprobs[] {
  return content.map((t) => ({
    id: t["id"],
    logprob: t["logprob"],
    bytes: t["bytes"],
    top: (t["top_logprobs"] as Array<Record<string, any>>).map((a) => ({
      id: a["id"],
      logprob: a["logprob"],
      bytes: a["bytes"],
    })),
  }));
}
