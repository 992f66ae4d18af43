import { Hono, type Handler } from "hono";
import { describe, expect, it } from "vitest";
import { CHAT, chatInit, sleep, testApp } from "../../test/support/test-app.ts";
import { createQuotaStore, type QuotaStore } from "../quota/quota-store.ts";
import type { GatewayEnv } from "../types.ts";
import { onError } from "./errors.ts";
import { requestScope } from "./request-scope.ts";
import { silentLogger } from "../logger.ts";

/** A promise and the function that resolves it. */
function gate(): { open: () => void; opened: Promise<void> } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
}

/** A Hono app with the scope first and `handler` after a middleware that registers `release` with it. */
function scoped(handler: Handler<GatewayEnv>, log: string[]) {
  const app = new Hono<GatewayEnv>();
  app.use(requestScope());
  app.post(
    "/x",
    async (c, next) => {
      c.get("scope").defer(() => log.push("first"));
      c.get("scope").defer(() => log.push("second"));
      await next();
    },
    handler,
  );
  app.onError(onError({ logger: silentLogger }));
  return app;
}

describe("requestScope", () => {
  it("runs each release once when the handler returns, the last registered first", async () => {
    const log: string[] = [];
    const app = scoped((c) => {
      const early = c.get("scope").defer(() => log.push("early"));
      early();
      early();
      return c.text("ok");
    }, log);
    expect((await app.request("/x", { method: "POST" })).status).toBe(200);
    expect(log).toEqual(["early", "second", "first"]);
  });

  it("releases at once when the client leaves while the request awaits, not when the await ends", async () => {
    const log: string[] = [];
    const redis = gate();
    const awaiting = gate();
    let signalAborted = false;
    let afterTheAwait: unknown;
    const app = scoped(async (c) => {
      const scope = c.get("scope");
      scope.signal.addEventListener("abort", () => (signalAborted = true));
      awaiting.open();
      await redis.opened; // a quota store, a model list refresh, ...
      // Taken after the client left: given back at once.
      scope.defer(() => log.push("taken late"));
      try {
        scope.throwIfGone();
      } catch (err) {
        afterTheAwait = err;
        throw err;
      }
      return c.text("never");
    }, log);
    const client = new AbortController();
    const pending = app.request(new Request("http://gw/x", { method: "POST", signal: client.signal }));
    await awaiting.opened;
    client.abort();
    expect(signalAborted).toBe(true);
    expect(log).toEqual(["second", "first"]);
    redis.open();
    const res = await pending;
    expect(res.status).toBe(499);
    expect(log).toEqual(["second", "first", "taken late"]);
    expect(afterTheAwait).toMatchObject({ code: "client_closed_request" });
  });

  it("sees a client that left before the scope existed: aborted at once, everything released as it is taken", async () => {
    const log: string[] = [];
    let aborted: boolean | undefined;
    const app = scoped((c) => {
      aborted = c.get("scope").signal.aborted;
      return c.text("ok");
    }, log);
    const client = new AbortController();
    client.abort();
    await app.request(new Request("http://gw/x", { method: "POST", signal: client.signal }));
    expect(aborted).toBe(true);
    expect(log).toEqual(["first", "second"]); // each at once, as deferred
  });

  it("keeps a held response open past its handler until it ends, or until the client leaves", async () => {
    const log: string[] = [];
    let done: (() => void) | undefined;
    const app = scoped((c) => {
      done = c.get("scope").hold();
      return c.text("streaming");
    }, log);
    await app.request("/x", { method: "POST" });
    expect(log).toEqual([]);
    done!();
    expect(log).toEqual(["second", "first"]);

    const cut: string[] = [];
    const client = new AbortController();
    await scoped((c) => {
      c.get("scope").hold(); // never ended by the stream
      return c.text("streaming");
    }, cut).request(new Request("http://gw/x", { method: "POST", signal: client.signal }));
    expect(cut).toEqual([]);
    client.abort();
    expect(cut).toEqual(["second", "first"]);
  });

  it("runs every release even when one throws", async () => {
    const log: string[] = [];
    const app = scoped((c) => {
      c.get("scope").defer(() => {
        throw new Error("boom");
      });
      return c.text("ok");
    }, log);
    expect((await app.request("/x", { method: "POST" })).status).toBe(200);
    expect(log).toEqual(["second", "first"]);
  });
});

/** The in-memory store, with stream leases counted and their acquisition held at a gate. */
function gatedStore(acquireGate: Promise<void> | undefined) {
  const inner = createQuotaStore();
  const counts = { acquired: 0, released: 0, waiting: gate() };
  const store: QuotaStore = {
    ...inner,
    async acquireLease(name, key, limit, ttlMs) {
      if (name === "streams" && acquireGate) {
        counts.waiting.open();
        await acquireGate;
      }
      const state = await inner.acquireLease(name, key, limit, ttlMs);
      if (name === "streams" && state.allowed) counts.acquired++;
      return state;
    },
    async releaseLease(name, key, lease) {
      if (name === "streams") counts.released++;
      return inner.releaseLease(name, key, lease);
    },
  };
  return { store, counts };
}

describe("a request whose client leaves while the gateway awaits", () => {
  it("gives back the stream slot that arrives after the client left, and is never forwarded", async () => {
    const redis = gate();
    const { store, counts } = gatedStore(redis.opened);
    const { app, upstream } = testApp({ quotaStore: store, defaultPolicy: { concurrentStreams: 1 } });
    const client = new AbortController();
    const pending = app.request(
      new Request("http://gw/v1/chat/completions", { ...chatInit({ ...CHAT, stream: true }), signal: client.signal }),
    );
    await counts.waiting.opened;
    client.abort();
    redis.open();
    expect((await pending).status).toBe(499);
    await sleep(5);
    expect(counts).toMatchObject({ acquired: 1, released: 1 });
    expect(upstream.api()).toHaveLength(0);
  });

  it("is never forwarded when it left during a refresh of the model list", async () => {
    const models = gate();
    const refreshing = gate();
    const { app, upstream } = testApp(
      { modelsTtlMs: 1 },
      {
        "GET /v1/models": async () => {
          refreshing.open();
          await models.opened;
          return Response.json({ object: "list", data: [{ id: "m", object: "model", created: 1, owned_by: "me" }] });
        },
      },
    );
    const client = new AbortController();
    const pending = app.request(
      new Request("http://gw/v1/chat/completions", { ...chatInit(CHAT), signal: client.signal }),
    );
    await refreshing.opened;
    client.abort();
    models.open();
    expect((await pending).status).toBe(499);
    expect(upstream.api()).toHaveLength(0);
  });
});
