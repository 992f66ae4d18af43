import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serveTinyModel, type ServedModel } from "./serve-tiny-model.ts";

/**
 * Two conversations taking turns on two slots: each turn finds its conversation's history in the slot it left it in
 * (slot choice by cached prefix), and `usage.prompt_tokens_details.cached_tokens` says how much of it was reused.
 * Handing out the first free slot instead puts every turn on the slot the other conversation just used.
 */
let served: ServedModel;

beforeAll(async () => {
  served = await serveTinyModel({ env: { PARALLEL: "2" } });
}, 120_000);
afterAll(async () => {
  await served?.stop();
});

interface Message {
  role: "system" | "user" | "assistant";
  content: string;
}
interface Answer {
  choices: Array<{ message: { content: string } }>;
  usage: { prompt_tokens: number; prompt_tokens_details: { cached_tokens: number } };
}

const SYSTEM: Message = { role: "system", content: "You are brief." };

async function turn(messages: Message[]): Promise<Answer> {
  const response = await fetch(`${served.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "tiny", messages, max_tokens: 6, temperature: 0 }),
  });
  expect(response.status).toBe(200);
  return (await response.json()) as Answer;
}

describe("conversations on their own slots", () => {
  it("reuses each conversation's whole previous prompt when two alternate on two slots", async () => {
    const conversations: Record<"a" | "b", Message[]> = {
      a: [SYSTEM, { role: "user", content: "Alice asks about the weather in the mountains today." }],
      b: [SYSTEM, { role: "user", content: "Bob wants a recipe for a quick vegetable soup." }],
    };
    const previous: Partial<Record<"a" | "b", number>> = {};
    const seen: string[] = [];
    for (const round of [1, 2, 3]) {
      for (const name of ["a", "b"] as const) {
        const messages = conversations[name];
        const answer = await turn(messages);
        const cached = answer.usage.prompt_tokens_details.cached_tokens;
        seen.push(`${name}${round}: ${cached}/${answer.usage.prompt_tokens}`);
        // A later turn repeats the previous prompt (and the reply): all of it is found cached, bar at most the
        // token where the reply meets the template's text after it.
        if (round > 1) expect(cached, seen.join(", ")).toBeGreaterThanOrEqual(previous[name]! - 1);
        previous[name] = answer.usage.prompt_tokens;
        messages.push(
          { role: "assistant", content: answer.choices[0]!.message.content },
          { role: "user", content: `And turn ${round + 1}?` },
        );
      }
    }
  });
});
