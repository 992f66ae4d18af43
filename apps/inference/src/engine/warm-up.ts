import type { Engine } from "./load-engine.ts";
import type { ChatTemplate } from "./prompt/index.ts";
import { prepareChat } from "./prepare-chat.ts";
import { generate } from "./generate.ts";

/**
 * One short greedy generation through the real path (template, tokenizer, pool, sampler) before /ready says yes,
 * so the first client request does not pay for lazy initialisation and a model that cannot generate never goes ready.
 */
export async function warmUp(engine: Engine, template: ChatTemplate): Promise<void> {
  const chat = await prepareChat(engine, template, {
    messages: [{ role: "user", content: "Hello" }],
    maxTokens: 2,
    temperature: 0,
  });
  await engine.pool.with(undefined, (sequence) => generate(sequence, chat));
}
