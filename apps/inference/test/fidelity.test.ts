import { readFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { answerCase } from "./fidelity/answer.ts";
import { casesFor, FIDELITY_MODELS, type FidelityCase, type FidelityGolden, type TokenLogprobs } from "./fidelity/cases.ts";
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
        const { usagePromptTokens, ...actual } = await answerCase(served.url, fidelityCase);
        expect(usagePromptTokens).toBe(actual.promptTokens.length);
        expect(actual.promptText).toBe(expected!.promptText);
        expect(actual.promptTokens).toEqual(expected!.promptTokens);
        if (expected!.logprobs) expectLogprobs(actual.logprobs, expected!.logprobs);
        expect({ content: actual.content, reasoning: actual.reasoningContent ?? "", calls: actual.toolCalls ?? [], finish: actual.finishReason, tokens: actual.completionTokens }).toEqual({
          content: expected!.content,
          reasoning: expected!.reasoningContent ?? "",
          calls: expected!.toolCalls ?? [],
          finish: expected!.finishReason,
          tokens: expected!.completionTokens,
        });
        const streamed = await streamAnswer(served.url, fidelityCase);
        expect(streamed).toEqual({ content: actual.content, reasoning: actual.reasoningContent ?? "" });
      });
    }
  });
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

/** Greedy logprobs as llama-server reports them (its default, before sampling): the same token ids, values within 1e-3. */
function expectLogprobs(actual: TokenLogprobs[] | undefined, expected: TokenLogprobs[]): void {
  expect(actual?.map((t) => [t.id, t.top.map((a) => a.id)])).toEqual(expected.map((t) => [t.id, t.top.map((a) => a.id)]));
  expect(actual?.map((t) => [t.bytes, t.top.map((a) => a.bytes)])).toEqual(expected.map((t) => [t.bytes, t.top.map((a) => a.bytes)]));
  actual!.forEach((token, i) => {
    expect(Math.abs(token.logprob - expected[i]!.logprob), `token ${i}: ${token.logprob} vs ${expected[i]!.logprob}`).toBeLessThan(1e-3);
    token.top.forEach((alternative, j) => expect(Math.abs(alternative.logprob - expected[i]!.top[j]!.logprob), `token ${i} top ${j}: ${alternative.logprob} vs ${expected[i]!.top[j]!.logprob}`).toBeLessThan(1e-3));
  });
}
