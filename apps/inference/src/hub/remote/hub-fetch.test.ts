import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { HubUnavailableError } from "../errors.ts";
import { createHubFetch } from "./hub-fetch.ts";
import { USER_AGENT } from "./user-agent.ts";

const artifact = { repo: "acme/m", revision: "v1", file: "m.gguf" };
const servers: Array<{ close(): void; closeAllConnections(): void }> = [];
afterEach(() => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    server.close();
  }
});

/** A loopback server answering each request with the next handler (the last one repeats). */
async function serve(...handlers: Array<(req: IncomingMessage, res: ServerResponse) => void>): Promise<string> {
  let calls = 0;
  const server = createServer((req, res) => handlers[Math.min(calls++, handlers.length - 1)]!(req, res));
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const silent = () => {};
const json = (_req: IncomingMessage, res: ServerResponse) => {
  res.writeHead(200, { "content-type": "application/json" });
  res.end('{"sha":"ok"}');
};

describe("createHubFetch timeouts (HF_HUB_DOWNLOAD_TIMEOUT)", () => {
  it("gives up on a server that sends no headers, retries, and names the host", async () => {
    const hubUrl = await serve(silent);
    const retries: string[] = [];
    const hub = createHubFetch({
      hubUrl,
      artifact,
      hadToken: false,
      retry: { retries: 1, baseDelayMs: 1, maxWaitMs: 1_000 },
      timeoutMs: 100,
      onRetry: ({ reason }) => retries.push(reason.message),
    });
    const error = await hub.fetch(`${hubUrl}/api/models/acme/m/revision/v1`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HubUnavailableError);
    expect((error as Error).message).toMatch(
      new RegExp(
        `^the Hub at ${new URL(hubUrl).host.replace(/\./g, "\\.")} is unreachable \\(no answer within 0\\.1 s\\)`,
      ),
    );
    expect(retries).toHaveLength(1);
  });

  it("retries an API reply whose body stalls, and hands over the next one whole", async () => {
    const stallsMidBody = (_req: IncomingMessage, res: ServerResponse) => {
      res.writeHead(200, { "content-type": "application/json", "content-length": 12 });
      res.write('{"sha":');
    };
    const hubUrl = await serve(stallsMidBody, json);
    const hub = createHubFetch({
      hubUrl,
      artifact,
      hadToken: false,
      retry: { retries: 2, baseDelayMs: 1, maxWaitMs: 1_000 },
      timeoutMs: 100,
    });
    const response = await hub.fetch(`${hubUrl}/api/models/acme/m/revision/v1`);
    expect(await response.json()).toEqual({ sha: "ok" });
  });

  it("says slm-serve/<version>, and keeps the token on the Hub origin across a redirect", async () => {
    const seen: Array<[string | undefined, string | undefined]> = [];
    const cdnUrl = await serve((req, res) => {
      seen.push([req.headers["user-agent"], req.headers.authorization]);
      json(req, res);
    });
    const hubUrl = await serve((req, res) => {
      seen.push([req.headers["user-agent"], req.headers.authorization]);
      res.writeHead(302, { location: `${cdnUrl}/file?Signature=s` });
      res.end();
    });
    const hub = createHubFetch({
      hubUrl,
      artifact,
      hadToken: true,
      retry: { retries: 0, baseDelayMs: 1, maxWaitMs: 1 },
    });
    const response = await hub.fetch(`${hubUrl}/acme/m/resolve/v1/m.gguf`, {
      headers: { authorization: "Bearer hf_secret" },
    });
    expect(response.status).toBe(200);
    await response.body?.cancel();
    expect(seen).toEqual([
      [USER_AGENT, "Bearer hf_secret"],
      [USER_AGENT, undefined],
    ]);
  });
});
