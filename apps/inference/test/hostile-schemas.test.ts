import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serveTinyModel, type ServedModel } from "./serve-tiny-model.ts";

/**
 * Hostile JSON schemas against a real inference process (issue 22, findings 2, 5 and 7). A schema the grammar limits
 * refuse is a 400 naming its path and the limit, at once; one just under them is served; neither holds up another
 * client's 2-token chat or /ready; a bad schema is never a 500; no schema text reaches a log line.
 */
const PARAM = "response_format.json_schema.schema";
const MARKER = "hostile-schema-marker";
/** Far above what either request needs alone (a few ms to a few hundred): only a stall fails it. */
const PROMPTLY_MS = 2_000;

let served: ServedModel;
beforeAll(async () => {
  served = await serveTinyModel({ env: { PARALLEL: "2", MAX_QUEUE: "8" } });
}, 120_000);
afterAll(async () => {
  await served?.stop();
});

const values = (n: number) => Array.from({ length: n }, (_, i) => `value-number-${i}-abcdef`);

interface Answer {
  status: number;
  body: { error?: { message: string; type: string; param: string | null; code: string | null }; choices?: unknown[] };
  ms: number;
}

function post(path: string, body: Record<string, unknown> | string): Promise<Answer> {
  const started = performance.now();
  return fetch(`${served.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
  }).then(async (r) => ({
    status: r.status,
    body: (await r.json()) as Answer["body"],
    ms: performance.now() - started,
  }));
}

const withSchema = (schema: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
  post("/v1/chat/completions", {
    model: "tiny",
    messages: [{ role: "user", content: "Answer in JSON" }],
    max_tokens: 40,
    temperature: 0,
    response_format: { type: "json_schema", json_schema: { name: "x", schema } },
    ...extra,
  });

/** Another client: a plain 2-token chat, and a readiness probe (the gateway's health check). */
function bystanders() {
  const started = performance.now();
  const chat = post("/v1/chat/completions", {
    model: "tiny",
    messages: [{ role: "user", content: "hi" }],
    max_tokens: 2,
  });
  const ready = fetch(`${served.url}/ready`).then((r) => ({ status: r.status, ms: performance.now() - started }));
  return Promise.all([chat, ready]);
}

const content = (answer: Answer) =>
  (answer.body.choices?.[0] as { message: { content: string } } | undefined)?.message.content ?? "";

describe("one large schema does not stall the others", () => {
  it("refuses a 50,000-value enum (933 KB) at once with a 400 naming the enum limit; a chat and /ready answer", async () => {
    const big = withSchema({ enum: values(50_000) });
    const [chat, ready] = await bystanders();
    const refused = await big;
    expect(refused.status).toBe(400);
    expect(refused.body.error).toMatchObject({ type: "invalid_request_error", code: "schema_too_large", param: PARAM });
    expect(refused.body.error?.message).toMatch(/^response_format\.json_schema\.schema\.enum: .*\b1000\b/);
    expect(chat.status).toBe(200);
    expect(ready.status).toBe(200);
    expect(chat.ms).toBeLessThan(PROMPTLY_MS);
    expect(ready.ms).toBeLessThan(PROMPTLY_MS);
  });

  it("serves a 1,000-value enum (the most the limit allows) while another client's chat and /ready answer promptly", async () => {
    const allowed = values(1000);
    const big = withSchema({ enum: allowed });
    const [chat, ready] = await bystanders();
    const answer = await big;
    expect(answer.status).toBe(200);
    expect(allowed).toContain(JSON.parse(content(answer)));
    expect(chat.status).toBe(200);
    expect(ready.status).toBe(200);
    expect(chat.ms).toBeLessThan(PROMPTLY_MS);
    expect(ready.ms).toBeLessThan(PROMPTLY_MS);
  });
});

describe("every bad schema is a 400 naming its path, never a 500", () => {
  it.each([
    ["minLength 500, maxLength 1500", { type: "string", minLength: 500, maxLength: 1500 }, `${PARAM}.maxLength`],
    ["maxItems 1999", { type: "array", items: { type: "string" }, maxItems: 1999 }, `${PARAM}.maxItems`],
    ["minItems 1e9", { type: "array", items: { type: "string" }, minItems: 1e9 }, `${PARAM}.minItems`],
    [
      "maxLength 1e9",
      { type: "object", properties: { name: { type: "string", maxLength: 1e9 } } },
      `${PARAM}.properties.name.maxLength`,
    ],
    [
      "a recursive $ref",
      { $ref: "#/$defs/a", $defs: { a: { anyOf: [{ $ref: "#/$defs/a" }, { type: "string" }] } } },
      `${PARAM}.$defs.a`,
    ],
    [
      "a recursion with no way out",
      {
        $ref: "#/$defs/n",
        $defs: { n: { type: "object", properties: { [MARKER]: { $ref: "#/$defs/n" } }, required: [MARKER] } },
      },
      `${PARAM}.$defs.n`,
    ],
  ])("%s", async (_, schema, path) => {
    const answer = await withSchema(schema);
    expect(answer.status).toBe(400);
    expect(answer.body.error?.type).toBe("invalid_request_error");
    expect(answer.body.error?.param).toBe(PARAM);
    expect(answer.body.error?.message.startsWith(`${path}:`), answer.body.error?.message).toBe(true);
  });

  it("5,000-deep nesting (refused by the depth limit before anything recurses)", async () => {
    // Written as text: JSON.stringify itself would recurse 5,000 levels deep.
    const schema = `${'{"type":"array","items":'.repeat(5000)}{"type":"string"}${"}".repeat(5000)}`;
    const answer = await post(
      "/v1/chat/completions",
      `{"model":"tiny","messages":[{"role":"user","content":"x"}],"max_tokens":5,"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":${schema}}}}`,
    );
    expect(answer.status).toBe(400);
    expect(answer.body.error).toMatchObject({ code: "schema_too_large", param: PARAM });
    expect(answer.body.error?.message).toMatch(
      /^response_format\.json_schema\.schema(\.items){32}: nested more than 32 /,
    );
  });

  it("names the tool's parameters when a tool schema is the bad one", async () => {
    const answer = await post("/v1/chat/completions", {
      model: "tiny",
      messages: [{ role: "user", content: "call it" }],
      max_tokens: 20,
      tools: [
        {
          type: "function",
          function: {
            name: "f",
            parameters: { type: "object", properties: { q: { type: "string", maxLength: 1e9 } } },
          },
        },
      ],
      tool_choice: "required",
    });
    expect(answer.status).toBe(400);
    expect(answer.body.error?.param).toBe("tools.0.function.parameters");
    expect(answer.body.error?.message).toMatch(/^tools\.0\.function\.parameters\.properties\.q\.maxLength: /);
  });

  it("writes a const holding NUL and other control characters as JSON escapes (the grammar is not cut)", async () => {
    const value = `${MARKER}\u0000nul\u0001and\u001fmore`;
    const answer = await withSchema({ const: value }, { max_tokens: 200 });
    expect(answer.status).toBe(200);
    expect(JSON.parse(content(answer))).toBe(value);
  });
});

describe("logs", () => {
  it("hold no schema text: no enum value, property name or const from the requests above", () => {
    const leaked = served.service.lines.filter((line) => line.includes(MARKER) || line.includes("value-number-"));
    expect(leaked).toEqual([]);
  });
});
