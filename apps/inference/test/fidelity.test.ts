import { readFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { casesFor, FIDELITY_MODELS, type FidelityAnswer, type FidelityCase, type FidelityGolden } from "./fidelity/cases.ts";
import { fidelityModelPath } from "./fidelity/models.ts";
import { readSse, serveTinyModel, type ServedModel } from "./serve-tiny-model.ts";

/**
 * The fidelity matrix: each model carries a real vocabulary and a real chat template (from the llama.cpp source
 * node-llama-cpp bundles); inference serves it as a real process, and every case must give what llama-server gave
 * on the same file (goldens/, recorded by `pnpm fidelity:record`): the same prompt text, the same prompt token ids,
 * the same greedy answer split the same way into content and reasoning, in JSON and in the stream.
 */
for (const model of FIDELITY_MODELS) {
  describe(`fidelity: ${model.id} (${model.vocab} vocabulary, ${model.template}, ${model.tensorType})`, () => {
    let served: ServedModel;
    let golden: FidelityGolden;

    beforeAll(async () => {
      golden = JSON.parse(await readFile(new URL(`./fidelity/goldens/${model.id}.json`, import.meta.url), "utf8")) as FidelityGolden;
      const gguf = await readFile(await fidelityModelPath(model));
      served = await serveTinyModel({ gguf, env: { CONTEXT_SIZE: "4096", PARALLEL: "1", LLAMA_THREADS: "1" } });
    }, 180_000);
    afterAll(async () => {
      await served?.stop();
    });

    for (const fidelityCase of casesFor(model)) {
      it(`${fidelityCase.name}: prompt ids and greedy answer equal llama-server's, stream equals JSON`, async () => {
        const expected = golden.answers.find((a) => a.case === fidelityCase.name);
        expect(expected, `no golden for ${fidelityCase.name}: run pnpm fidelity:record`).toBeDefined();
        const actual = await answer(served.url, fidelityCase);
        expect(actual.promptText).toBe(expected!.promptText);
        expect(actual.promptTokens).toEqual(expected!.promptTokens);
        expect({ content: actual.content, reasoning: actual.reasoningContent ?? "", finish: actual.finishReason, tokens: actual.completionTokens }).toEqual({
          content: expected!.content,
          reasoning: expected!.reasoningContent ?? "",
          finish: expected!.finishReason,
          tokens: expected!.completionTokens,
        });
        const streamed = await streamAnswer(served.url, fidelityCase);
        expect(streamed).toEqual({ content: actual.content, reasoning: actual.reasoningContent ?? "" });
      });
    }
  });
}

async function post(url: string, path: string, body: unknown): Promise<Record<string, any>> {
  const response = await fetch(`${url}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  const json = (await response.json()) as Record<string, any>;
  if (!response.ok) throw new Error(`${path}: ${response.status} ${JSON.stringify(json)}`);
  return json;
}

/** The same calls the recorder makes to llama-server, made to inference. */
async function answer(url: string, fidelityCase: FidelityCase): Promise<FidelityAnswer> {
  if (fidelityCase.route === "completion") {
    const { tokens } = await post(url, "/tokenize", { content: fidelityCase.body["prompt"], add_special: true, parse_special: true });
    const completion = await post(url, "/v1/completions", fidelityCase.body);
    expect(completion["usage"].prompt_tokens).toBe(tokens.length);
    return {
      case: fidelityCase.name,
      promptTokens: tokens,
      content: completion["choices"][0].text,
      finishReason: completion["choices"][0].finish_reason,
      completionTokens: completion["usage"].completion_tokens,
    };
  }
  const { prompt } = await post(url, "/apply-template", fidelityCase.body);
  const { tokens } = await post(url, "/tokenize", { content: prompt, add_special: true, parse_special: true });
  const chat = await post(url, "/v1/chat/completions", fidelityCase.body);
  expect(chat["usage"].prompt_tokens).toBe(tokens.length);
  const message = chat["choices"][0].message;
  return {
    case: fidelityCase.name,
    promptText: prompt,
    promptTokens: tokens,
    content: message.content,
    ...(message.reasoning_content ? { reasoningContent: message.reasoning_content } : {}),
    finishReason: chat["choices"][0].finish_reason,
    completionTokens: chat["usage"].completion_tokens,
  };
}

async function streamAnswer(url: string, fidelityCase: FidelityCase): Promise<{ content: string; reasoning: string }> {
  const path = fidelityCase.route === "chat" ? "/v1/chat/completions" : "/v1/completions";
  const response = await fetch(`${url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ ...fidelityCase.body, stream: true }),
  });
  let content = "";
  let reasoning = "";
  for (const event of await readSse(response)) {
    if (event.data === "[DONE]") continue;
    const choice = (event.data as { choices: Array<Record<string, any>> }).choices[0];
    if (!choice) continue;
    if (fidelityCase.route === "completion") content += choice["text"] ?? "";
    else {
      content += choice["delta"].content ?? "";
      reasoning += choice["delta"].reasoning_content ?? "";
    }
  }
  return { content, reasoning };
}
