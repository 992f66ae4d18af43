import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startGateway, stopAll } from "./support/gateway-process.ts";
import { expectDisconnectAbortsUpstream } from "./support/disconnect.ts";
import { smoke } from "./support/smoke.ts";
import { startStubInference, type StubInference } from "./support/stub-inference.ts";

/** The same app under Deno (the `deno` npm package), passing the same smoke test as under Node. */

const INTERNAL = "internal-inference-key-0123456789";
let stub: StubInference;

beforeAll(async () => {
  stub = await startStubInference({ requireKey: INTERNAL });
});
afterAll(async () => {
  await stopAll();
  await stub?.close();
});

describe("gateway under Deno", () => {
  it("passes the smoke test, and aborts the upstream when the client disconnects", async () => {
    const key = "sk-deno-key-0123456789abcdef";
    const gw = await startGateway(
      {
        INFERENCE_URL: stub.url,
        INFERENCE_API_KEY: INTERNAL,
        GATEWAY_API_KEYS: key,
        GATEWAY_REQUESTS_PER_MINUTE: "8",
        GATEWAY_TOKENS_PER_MINUTE: "100000",
      },
      "deno",
    );
    expect(gw.logs().find((l) => l["msg"] === "listening")).toMatchObject({ runtime: "deno", auth: "api_key" });
    await smoke({ url: gw.url, key, internalKey: INTERNAL, requestsPerMinute: 8, stub });

    const other = "sk-deno-other-0123456789abcd";
    const gw2 = await startGateway(
      { INFERENCE_URL: stub.url, INFERENCE_API_KEY: INTERNAL, GATEWAY_API_KEYS: other },
      "deno",
    );
    await expectDisconnectAbortsUpstream({ url: gw2.url, key: other, stub, timeoutMs: 5000 });
    expect((await gw2.metrics()).status).toBe(200);
  }, 90_000);
});
