import type { Server } from "node:http";
import { connect, type AddressInfo, type Socket } from "node:net";
import { serve } from "@hono/node-server";
import { Hono, type Context } from "hono";
import { afterEach, describe, expect, it } from "vitest";
import type { GatewayEnv } from "../types.ts";
import { nodeRuntime } from "./node-runtime.ts";

/**
 * The Node adapter against a real @hono/node-server: a client that leaves at any moment is seen - also when it left
 * before anyone listened (Node emits "close" once) - and a body is read within its deadline or not at all.
 */

const runtime = nodeRuntime();
let server: Server | undefined;
afterEach(() => {
  server?.closeAllConnections();
  server?.close();
  server = undefined;
});

async function listen(handler: (c: Context<GatewayEnv>) => Promise<Response>): Promise<number> {
  const app = new Hono<GatewayEnv>();
  app.post("/x", (c) => handler(c));
  server = serve({ fetch: app.fetch, hostname: "127.0.0.1", port: 0 }) as Server;
  await new Promise((resolve) => server!.once("listening", resolve));
  return (server.address() as AddressInfo).port;
}

/** A raw request: the head, and `body` (maybe only part of what the head announces). */
function send(port: number, body: string, contentLength = body.length): Socket {
  const socket = connect({ host: "127.0.0.1", port });
  socket.on("error", () => {});
  socket.write(`POST /x HTTP/1.1\r\nhost: x\r\ncontent-length: ${contentLength}\r\n\r\n${body}`);
  return socket;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const settled = <T>(promise: Promise<T>, ms: number) =>
  Promise.race([
    promise.then(
      (value) => ({ value }),
      (error: unknown) => ({ error }),
    ),
    sleep(ms).then(() => "pending"),
  ]);

describe("nodeRuntime", () => {
  it("reports a client that left before anyone listened at once", async () => {
    let left!: () => void;
    const gone = new Promise<void>((resolve) => (left = resolve));
    const seen: boolean[] = [];
    const port = await listen(async (c) => {
      await gone; // the gateway awaits Redis, the model list...
      let called = false;
      runtime.onClientClose!(c, () => (called = true));
      seen.push(called);
      return c.text("late");
    });
    const socket = send(port, "{}");
    await sleep(50);
    socket.destroy();
    await sleep(50);
    left();
    await sleep(50);
    expect(seen).toEqual([true]);
  });

  it("reports a client that leaves later once, and not one whose response completed", async () => {
    let calls = 0;
    let release!: () => void;
    const waiting = new Promise<void>((resolve) => (release = resolve));
    const port = await listen(async (c) => {
      runtime.onClientClose!(c, () => calls++);
      await waiting;
      return c.text("done");
    });
    const socket = send(port, "{}");
    await sleep(50);
    socket.destroy();
    await sleep(50);
    expect(calls).toBe(1);
    release();

    let completed = 0;
    server?.close();
    const port2 = await listen(async (c) => {
      runtime.onClientClose!(c, () => completed++);
      return c.text("done");
    });
    const res = await fetch(`http://127.0.0.1:${port2}/x`, { method: "POST", body: "{}" });
    await res.text();
    await sleep(50);
    expect(completed).toBe(0);
  });

  it("stops reading a body whose client left, before or while it is read: 499, never a hang or a 500", async () => {
    const outcomes: unknown[] = [];
    let left!: () => void;
    const gone = new Promise<void>((resolve) => (left = resolve));
    const port = await listen(async (c) => {
      if (c.req.header("content-length") === "100") {
        // Half a body, then the client goes while it is read.
        outcomes.push(await settled(runtime.readBody!(c, 1000), 2000));
      } else {
        await gone; // gone before the body is read at all
        outcomes.push(await settled(runtime.readBody!(c, 1000), 500));
      }
      return c.text("x");
    });
    const first = send(port, "{", 100);
    await sleep(50);
    first.destroy();
    const second = send(port, "{}", 50);
    await sleep(50);
    second.destroy();
    await sleep(50);
    left();
    await sleep(600);
    expect(outcomes).toHaveLength(2);
    for (const outcome of outcomes)
      expect(outcome).toMatchObject({ error: { status: 499, code: "client_closed_request" } });
  });

  it("gives up on a body that does not arrive within its deadline: 408 naming the limit", async () => {
    const outcomes: unknown[] = [];
    const port = await listen(async (c) => {
      outcomes.push(await settled(runtime.readBody!(c, 1000, { timeoutMs: 100 }), 2000));
      return c.text("x");
    });
    const socket = send(port, "{", 10);
    await sleep(400);
    socket.destroy();
    expect(outcomes).toEqual([
      {
        error: expect.objectContaining({
          status: 408,
          code: "request_timeout",
          message: "Request body not received in time: the limit is 100 ms.",
        }),
      },
    ]);
  });
});
