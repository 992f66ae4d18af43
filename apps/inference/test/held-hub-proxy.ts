import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A loopback proxy in front of the fake Hub whose CDN downloads can be held mid-body: the first `holdAfterBytes`
 * of a file go through, the rest waits until `release()`. Lets a test watch inference sit in "downloading".
 */
export interface HeldHubProxy {
  /** Use as HF_ENDPOINT. */
  url: string;
  /** Lets held downloads continue (and every later one through). */
  release(): void;
  close(): Promise<void>;
}

const HOP_BY_HOP = new Set(["connection", "keep-alive", "transfer-encoding", "content-encoding", "host"]);

export async function startHeldHubProxy(options: {
  hubUrl: string;
  cdnUrl: string;
  holdAfterBytes: number;
}): Promise<HeldHubProxy> {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const cdn = await listen((req, res) =>
    forward(req, res, options.cdnUrl, { rewrite: undefined, hold: { after: options.holdAfterBytes, until: released } }),
  );
  const hub = await listen((req, res) =>
    forward(req, res, options.hubUrl, { rewrite: [options.cdnUrl, cdn.url], hold: undefined }),
  );
  return {
    url: hub.url,
    release,
    close: async () => {
      release();
      await Promise.all([hub.close(), cdn.close()]);
    },
  };
}

async function listen(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => handler(req, res));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function forward(
  req: IncomingMessage,
  res: ServerResponse,
  origin: string,
  options: { rewrite: [string, string] | undefined; hold: { after: number; until: Promise<void> } | undefined },
): Promise<void> {
  try {
    const headers = new Headers();
    for (const [name, value] of Object.entries(req.headers)) {
      if (typeof value === "string" && !HOP_BY_HOP.has(name)) headers.set(name, value);
    }
    headers.set("accept-encoding", "identity");
    headers.delete("content-length");
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const method = req.method ?? "GET";
    const body = method === "GET" || method === "HEAD" ? undefined : Buffer.concat(chunks);
    const upstream = await fetch(`${origin}${req.url ?? "/"}`, {
      method,
      headers,
      redirect: "manual",
      ...(body ? { body } : {}),
    });
    const out: Record<string, string> = {};
    upstream.headers.forEach((value, name) => {
      if (!HOP_BY_HOP.has(name))
        out[name] = options.rewrite ? value.replaceAll(options.rewrite[0], options.rewrite[1]) : value;
    });
    res.writeHead(upstream.status, out);
    if (!upstream.body || req.method === "HEAD") {
      res.end();
      return;
    }
    let sent = 0;
    for await (const chunk of upstream.body as unknown as AsyncIterable<Uint8Array>) {
      if (options.hold && sent >= options.hold.after) await options.hold.until;
      const room = options.hold && sent < options.hold.after ? options.hold.after - sent : chunk.length;
      res.write(chunk.subarray(0, room));
      sent += Math.min(room, chunk.length);
      if (room < chunk.length) {
        await options.hold!.until;
        res.write(chunk.subarray(room));
        sent += chunk.length - room;
      }
    }
    res.end();
  } catch {
    res.destroy();
  }
}
