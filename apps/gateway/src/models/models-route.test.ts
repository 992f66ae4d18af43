import { describe, expect, it } from "vitest";
import { CHAT, chatInit, KEY, testApp } from "../../test/support/test-app.ts";

const model = (id: string) => ({ id, object: "model", created: 1, owned_by: "x" });
const served = (...ids: string[]) => ({
  "GET /v1/models": () => Response.json({ object: "list", data: ids.map(model) }),
});
const auth = { headers: { authorization: `Bearer ${KEY}` } };

describe("GET /v1/models/{id}", () => {
  it("answers OpenAI's model object for a served model the key may use", async () => {
    const { app } = testApp({}, served("m", "org/model"));
    const res = await app.request("/v1/models/m", auth);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual(model("m"));
    // An id with "/", URL-encoded (as the openai client sends it) or not.
    for (const path of ["/v1/models/org%2Fmodel", "/v1/models/org/model"]) {
      const r = await app.request(path, auth);
      expect(r.status, path).toBe(200);
      expect(await r.json()).toEqual(model("org/model"));
    }
  });

  it.each([
    ["not served", "/v1/models/other"],
    ["not allowed for the key", "/v1/models/n"],
  ])("answers 404 model_not_found in OpenAI's envelope for a model %s", async (_, path) => {
    const { app } = testApp({ defaultPolicy: { models: ["m"] } }, served("m", "n"));
    const res = await app.request(path, auth);
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({
      error: { message: expect.any(String), type: "invalid_request_error", param: "model", code: "model_not_found" },
    });
  });

  it("needs a key like every /v1 route", async () => {
    const { app } = testApp({}, served("m"));
    expect((await app.request("/v1/models/m")).status).toBe(401);
  });
});

describe("a request without a model, or with a URL for one", () => {
  const url = "http://127.0.0.1:8080/v1/chat/completions";

  it("means the one model served", async () => {
    const { app, upstream } = testApp({}, { ...served("m"), "POST /v1/chat/completions": () => Response.json({}) });
    for (const body of [{ messages: CHAT.messages }, { ...CHAT, model: url }, { ...CHAT, model: "https://x.test" }]) {
      const res = await app.request("/v1/chat/completions", chatInit(body));
      expect(res.status, JSON.stringify(body)).toBe(200);
      expect(JSON.parse(upstream.last()!.body!).model).toBe("m");
    }
  });

  it("means the one model the key may use when several are served", async () => {
    const { app, upstream } = testApp(
      { defaultPolicy: { models: ["n"] } },
      { ...served("m", "n"), "POST /v1/chat/completions": () => Response.json({}) },
    );
    expect((await app.request("/v1/chat/completions", chatInit({ ...CHAT, model: url }))).status).toBe(200);
    expect(JSON.parse(upstream.last()!.body!).model).toBe("n");
  });

  it("with several models served, is like no model: the first the key may use (a served name is never a URL)", async () => {
    const { app, upstream } = testApp(
      {},
      { ...served("m", "n"), "POST /v1/chat/completions": () => Response.json({}) },
    );
    expect((await app.request("/v1/chat/completions", chatInit({ ...CHAT, model: url }))).status).toBe(200);
    expect(JSON.parse(upstream.last()!.body!).model).toBe("m");
    const named = await app.request("/v1/chat/completions", chatInit({ ...CHAT, model: "nope" }));
    expect(named.status).toBe(404);
  });
});
