import type { Hono } from "hono";
import type { Token } from "node-llama-cpp";
import { ApplyTemplateRequest, DetokenizeRequest, TokenizeRequest } from "@slm/config";
import { renderChat, promptTokens } from "../engine/index.ts";
import { tokenizePrompt } from "../engine/prompt/index.ts";
import type { Serving } from "../serving.ts";
import type { InferenceEnv } from "./context.ts";
import { readRequest } from "./read-request.ts";
import { selectModel } from "./select-model.ts";

/**
 * llama-server's debug routes, same paths and shapes: `/apply-template` (messages -> the exact prompt text),
 * `/tokenize` and `/detokenize`. Internal only: the gateway routes none of them.
 */
export function mountDebugRoutes(app: Hono<InferenceEnv>, serving: () => Serving): void {
  app.post("/apply-template", async (c) => {
    const request = await readRequest(c, ApplyTemplateRequest);
    const served = selectModel(serving(), request.model);
    return c.json({ prompt: renderChat(served.template, request) });
  });
  app.post("/tokenize", async (c) => {
    const request = await readRequest(c, TokenizeRequest);
    const { model } = selectModel(serving(), request.model).engine;
    const tokens = request.add_special
      ? tokenizePrompt(model, request.content, request.parse_special)
      : model.tokenize(request.content, request.parse_special);
    if (!request.with_pieces) return c.json({ tokens });
    return c.json({ tokens: tokens.map((id) => ({ id, piece: model.detokenize([id], true) })) });
  });
  app.post("/detokenize", async (c) => {
    const request = await readRequest(c, DetokenizeRequest);
    const { engine } = selectModel(serving(), request.model);
    return c.json({ content: engine.model.detokenize(promptTokens(engine, request.tokens) as Token[], true) });
  });
}
