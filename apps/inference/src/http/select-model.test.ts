import { pino } from "pino";
import { describe, expect, it } from "vitest";
import type { Engine } from "../engine/index.ts";
import type { ChatTemplate } from "../engine/prompt/index.ts";
import { InferenceMetrics } from "../metrics.ts";
import { Readiness } from "../readiness.ts";
import type { Serving } from "../serving.ts";
import { createInferenceApp } from "./app.ts";
import { selectModel } from "./select-model.ts";

const one = (modelName: string): Serving => ({
  engine: {} as Engine,
  template: {} as ChatTemplate,
  modelName,
  createdAt: 7,
});
const single = one("tiny");
const base = one("base");
const poet = one("org/poet");
const withAdapters: Serving = {
  ...base,
  variants: new Map([
    ["base", base],
    ["org/poet", poet],
  ]),
};
const URLS = ["http://127.0.0.1:8080", "https://my-endpoint.example/v1/chat/completions"];

describe("selectModel", () => {
  it("with one model served, answers with it whatever the request names (none, a URL, another name)", () => {
    for (const model of [undefined, "", "other", ...URLS]) expect(selectModel(single, model)).toBe(single);
  });

  it("with adapters served, a missing model or a URL (the HF client's endpoint) is the base; a name picks one", () => {
    for (const model of [undefined, "", ...URLS])
      expect(selectModel(withAdapters, model).modelName, String(model)).toBe("base");
    expect(selectModel(withAdapters, "org/poet")).toBe(poet);
    expect(() => selectModel(withAdapters, "nope")).toThrow(expect.objectContaining({ code: "model_not_found" }));
  });
});

describe("GET /v1/models/{id}", () => {
  const app = (serving: Serving) =>
    createInferenceApp({
      readiness: new Readiness(),
      serving: () => serving,
      log: pino({ level: "silent" }),
      metrics: new InferenceMetrics(),
      maxBodyBytes: 1024,
      requestTimeoutMs: 1000,
      draining: () => false,
      shutdown: new AbortController().signal,
    });

  it("answers OpenAI's model object for a served model, ids with '/' encoded or not", async () => {
    expect(await (await app(single).request("/v1/models/tiny")).json()).toEqual({
      id: "tiny",
      object: "model",
      created: 7,
      owned_by: "slm-serve",
    });
    for (const path of ["/v1/models/org%2Fpoet", "/v1/models/org/poet"]) {
      const res = await app(withAdapters).request(path);
      expect(res.status, path).toBe(200);
      expect(((await res.json()) as { id: string }).id).toBe("org/poet");
    }
  });

  it("answers 404 model_not_found in OpenAI's envelope for any other id", async () => {
    const res = await app(withAdapters).request("/v1/models/nope");
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({
      error: { message: expect.any(String), type: "invalid_request_error", param: "model", code: "model_not_found" },
    });
  });
});
