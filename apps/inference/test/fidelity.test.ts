import { readFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { answerCase } from "./fidelity/answer.ts";
import {
  casesFor,
  FIDELITY_MODELS,
  type FidelityCase,
  type FidelityGolden,
  type TokenLogprobs,
} from "./fidelity/cases.ts";
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
      golden = JSON.parse(
        await readFile(new URL(`./fidelity/goldens/${model.id}.json`, import.meta.url), "utf8"),
      ) as FidelityGolden;
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
        if (
          actual.content !== expected!.content &&
          !expected!.logprobs &&
          !expected!.reasoningContent &&
          !actual.reasoningContent &&
          !expected!.toolCalls
        ) {
          // Random weights make near ties; which side of a tie wins depends on the CPU's SIMD path, in llama-server
          // as in us (the same binary family on another CPU records the other side). A difference is accepted only
          // where our own distribution shows such a tie at the first token that leaves llama-server's answer.
          const gap = await tieGapAtDivergence(served.url, fidelityCase, expected!.content);
          expect(gap, "greedy answer leaves llama-server's at a token that is not a near tie").toBeLessThan(NEAR_TIE);
          expect({ finish: actual.finishReason, tokens: actual.completionTokens }).toEqual({
            finish: expected!.finishReason,
            tokens: expected!.completionTokens,
          });
          return;
        }
        expect({
          content: actual.content,
          reasoning: actual.reasoningContent ?? "",
          calls: actual.toolCalls ?? [],
          finish: actual.finishReason,
          tokens: actual.completionTokens,
        }).toEqual({
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

/** A top-two logprob gap (nats) below which which token wins depends on floating-point summation order. */
const NEAR_TIE = 5e-3;

/**
 * Asks our server for the same greedy answer with the two best alternatives per token, finds the first token whose
 * text leaves `expected`, and returns the gap between the two best logprobs there (Infinity when none leaves it).
 */
async function tieGapAtDivergence(url: string, fidelityCase: FidelityCase, expected: string): Promise<number> {
  const chat = fidelityCase.route === "chat";
  const response = await fetch(`${url}${chat ? "/v1/chat/completions" : "/v1/completions"}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      ...fidelityCase.body,
      stream: false,
      ...(chat ? { logprobs: true, top_logprobs: 2 } : { logprobs: 2 }),
    }),
  });
  const body = (await response.json()) as { choices: Array<Record<string, any>> };
  const choice = body.choices[0]!;
  const tokens: Array<{ text: string; top: number[] }> = chat
    ? (choice["logprobs"].content as Array<{ token: string; top_logprobs: Array<{ logprob: number }> }>).map((t) => ({
        text: t.token,
        top: t.top_logprobs.map((a) => a.logprob),
      }))
    : (choice["logprobs"].tokens as string[]).map((text, i) => ({
        text,
        top: Object.values(choice["logprobs"].top_logprobs[i] as Record<string, number>).sort((a, b) => b - a),
      }));
  let text = "";
  for (const token of tokens) {
    text += token.text;
    if (!expected.startsWith(text) && !text.startsWith(expected))
      return token.top.length < 2 ? Infinity : token.top[0]! - token.top[1]!;
  }
  return Infinity;
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

/**
 * How far a logprob may be from llama-server's recorded one (nats). The recordings come from one machine and llama.cpp
 * picks its CPU kernels per machine (AVX-512 or AVX2, F16 dot products summed in another order): on an AMD EPYC, the
 * same binary gave values up to 1.5e-3 away from the recordings (measured: 1.39e-3 and 1.53e-3 on two f16 models).
 * A real fault (another token, temperature or penalties applied, probabilities after sampling) moves them by far more.
 */
const LOGPROB_TOLERANCE = 5e-3;

/** Greedy logprobs as llama-server reports them (its default, before sampling): the same token ids, values within tolerance. */
function expectLogprobs(actual: TokenLogprobs[] | undefined, expected: TokenLogprobs[]): void {
  expect(actual?.map((t) => [t.id, t.top.map((a) => a.id)])).toEqual(
    expected.map((t) => [t.id, t.top.map((a) => a.id)]),
  );
  expect(actual?.map((t) => [t.bytes, t.top.map((a) => a.bytes)])).toEqual(
    expected.map((t) => [t.bytes, t.top.map((a) => a.bytes)]),
  );
  actual!.forEach((token, i) => {
    expect(
      Math.abs(token.logprob - expected[i]!.logprob),
      `token ${i}: ${token.logprob} vs ${expected[i]!.logprob}`,
    ).toBeLessThan(LOGPROB_TOLERANCE);
    for (const [j, alternative] of token.top.entries()) {
      expect(
        Math.abs(alternative.logprob - expected[i]!.top[j]!.logprob),
        `token ${i} top ${j}: ${alternative.logprob} vs ${expected[i]!.top[j]!.logprob}`,
      ).toBeLessThan(LOGPROB_TOLERANCE);
    }
  });
}
