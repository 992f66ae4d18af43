import { describe, expect, it } from "vitest";
import { KEY, testApp } from "../../test/support/test-app.ts";

/** A request whose body sends `first` and then nothing more (a slow upload). */
function slowBody(first: string): RequestInit & { duplex: "half" } {
  return {
    method: "POST",
    headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
    body: new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(first));
      },
    }),
    duplex: "half",
  };
}

describe("reading the request body", () => {
  it("gives up on a body that does not arrive within GATEWAY_BODY_TIMEOUT_MS: 408 in the envelope, connection closed", async () => {
    const { app, upstream } = testApp({ limits: { bodyTimeoutMs: 100 } });
    const res = await app.request("/v1/chat/completions", slowBody('{"model":"m",'));
    expect(res.status).toBe(408);
    expect(res.headers.get("connection")).toBe("close");
    expect(await res.json()).toEqual({
      error: {
        message: "Request body not received in time: the limit is 100 ms.",
        type: "invalid_request_error",
        param: null,
        code: "request_timeout",
      },
    });
    expect(upstream.api()).toHaveLength(0);
  });

  it("stops reading when the client leaves mid-upload: 499, nothing forwarded", async () => {
    const { app, upstream } = testApp();
    const client = new AbortController();
    const pending = app.request(
      new Request("http://gw/v1/chat/completions", { ...slowBody('{"model":'), signal: client.signal }),
    );
    setTimeout(() => client.abort(), 50);
    expect((await pending).status).toBe(499);
    expect(upstream.api()).toHaveLength(0);
  });
});
