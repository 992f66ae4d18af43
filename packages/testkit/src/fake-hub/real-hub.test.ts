/**
 * The real Hub's behaviours of the Xet era, each behind a switch, seen by raw fetch: Xet-stored repos and their
 * bridge, the Xet Accept answer, CDN ETag modes, the bridge's unranged-size limit, stalled bodies, disabled repos,
 * storage errors without Hub headers, relative 307 renames, gzip small files, and per-route request counts.
 */
import { gunzipSync } from "node:zlib";
import { request } from "node:http";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { sha256Hex, xetHashOf } from "./hashing.ts";
import { startFakeHub } from "./start-fake-hub.ts";
import type { FakeHub } from "./types.ts";

const SMALL = '{"model_type":"llama","note":"a small JSON file, stored in git, not LFS"}';
const BIG = Buffer.alloc(256 * 1024);
for (let i = 0; i < BIG.length; i++) BIG[i] = (i * 31 + 7) % 251;
const BIG_SHA = sha256Hex(BIG);

let hub: FakeHub;
let sha: string;
let xetSha: string;

const pathsInfo = (repo: string, paths: string[], init: RequestInit = {}) =>
  fetch(`${hub.url}/api/models/${repo}/paths-info/main`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ paths }),
    ...init,
  });

beforeAll(async () => {
  hub = await startFakeHub();
  sha = hub.addRepo({ id: "org/lfs", files: { "config.json": SMALL, "model.gguf": BIG } });
  xetSha = hub.addRepo({ id: "org/xet", xet: true, files: { "config.json": SMALL, "model.gguf": BIG } });
});
afterAll(async () => hub.close());
beforeEach(() => hub.resetLog());
afterEach(() => {
  hub.faults.clear();
  Object.assign(hub.settings, { cdnEtag: "content", unrangedLimitBytes: 50 * 1024 ** 3, gzipSmallFiles: false });
});

describe("Xet-stored repos", () => {
  it("list xetHash beside lfs.oid (the sha256) in paths-info and tree; a git file has none", async () => {
    const entries = (await (await pathsInfo("org/xet", ["config.json", "model.gguf"])).json()) as Array<
      Record<string, unknown>
    >;
    const model = entries.find((e) => e.path === "model.gguf");
    expect(model).toMatchObject({ lfs: { oid: BIG_SHA, size: BIG.length }, xetHash: xetHashOf(BIG_SHA) });
    expect(entries.find((e) => e.path === "config.json")).not.toHaveProperty("xetHash");
    const tree = (await (await fetch(`${hub.url}/api/models/org/xet/tree/main`)).json()) as Array<
      Record<string, unknown>
    >;
    expect(tree.find((e) => e.path === "model.gguf")?.xetHash).toBe(xetHashOf(BIG_SHA));
    const plain = (await (await pathsInfo("org/lfs", ["model.gguf"])).json()) as Array<Record<string, unknown>>;
    expect(plain[0]).not.toHaveProperty("xetHash");
  });

  it("redirect resolve to the bridge origin with X-Xet-Hash, X-Linked-Etag, X-Linked-Size and the xet-auth Link", async () => {
    const res = await fetch(`${hub.url}/org/xet/resolve/main/model.gguf`, { redirect: "manual" });
    expect(res.status).toBe(302);
    const location = new URL(res.headers.get("location") ?? "");
    expect(location.origin).toBe(hub.bridgeUrl);
    expect(location.pathname).toBe(
      `${location.pathname.slice(0, location.pathname.lastIndexOf("/"))}/${xetHashOf(BIG_SHA)}`,
    );
    expect(res.headers.get("x-xet-hash")).toBe(xetHashOf(BIG_SHA));
    expect(res.headers.get("x-linked-etag")).toBe(`"${BIG_SHA}"`);
    expect(res.headers.get("x-linked-size")).toBe(String(BIG.length));
    expect(res.headers.get("x-repo-commit")).toBe(xetSha);
    expect(res.headers.get("link")).toBe(
      `<${hub.url}/api/models/org/xet/xet-read-token/${xetSha}>; rel="xet-auth", ` +
        `<${hub.bridgeUrl}/cas/v1/reconstructions/${xetHashOf(BIG_SHA)}>; rel="xet-reconstruction-info"`,
    );
    await res.body?.cancel();
  });

  it("serve the whole file from the bridge (200, or 206 for a range), counted apart from the CDN", async () => {
    const whole = await fetch(`${hub.url}/org/xet/resolve/main/model.gguf`);
    expect(whole.status).toBe(200);
    expect(Buffer.from(await whole.arrayBuffer()).equals(BIG)).toBe(true);
    const ranged = await fetch(`${hub.url}/org/xet/resolve/main/model.gguf`, { headers: { Range: "bytes=0-" } });
    expect(ranged.status).toBe(206);
    expect(ranged.headers.get("content-range")).toBe(`bytes 0-${BIG.length - 1}/${BIG.length}`);
    expect(Buffer.from(await ranged.arrayBuffer()).equals(BIG)).toBe(true);
    expect(hub.requestCounts()).toEqual({ resolve: 2, bridge: 2 });
    expect(hub.bridgeBytesSent).toBe(2 * BIG.length);
    expect(hub.cdnBytesSent).toBe(0);
  });

  it("answer Accept: application/vnd.xet-fileinfo+json with the Xet file info instead of a redirect", async () => {
    const res = await fetch(`${hub.url}/org/xet/resolve/main/model.gguf`, {
      headers: { Accept: "application/vnd.xet-fileinfo+json, */*" },
      redirect: "manual",
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/vnd.xet-fileinfo+json");
    expect(await res.json()).toMatchObject({ hash: xetHashOf(BIG_SHA), etag: BIG_SHA, size: BIG.length });
    const token = await fetch(`${hub.url}/api/models/org/xet/xet-read-token/${xetSha}`);
    expect(await token.json()).toMatchObject({ accessToken: expect.stringMatching(/^xet_/) });
    expect(hub.requestCounts()).toEqual({ resolve: 1, "xet-read-token": 1 });
  });

  it("refuse an unranged GET of a file over the size limit on the bridge (400), and serve a ranged one (206)", async () => {
    hub.settings.unrangedLimitBytes = 1024;
    const unranged = await fetch(`${hub.url}/org/xet/resolve/main/model.gguf`);
    expect(unranged.status).toBe(400);
    expect(unranged.headers.get("x-error-message")).toBeNull();
    await unranged.body?.cancel();
    const ranged = await fetch(`${hub.url}/org/xet/resolve/main/model.gguf`, { headers: { Range: "bytes=0-" } });
    expect(ranged.status).toBe(206);
    expect(Buffer.from(await ranged.arrayBuffer()).equals(BIG)).toBe(true);
  });

  it("can take the bridge alone down (connections refused), the Hub still answering", async () => {
    await hub.down("bridge");
    try {
      expect((await fetch(`${hub.url}/api/models/org/xet`)).status).toBe(200);
      const error = await fetch(`${hub.url}/org/xet/resolve/main/model.gguf`).catch((e: unknown) => e);
      expect((error as { cause?: { code?: string } }).cause?.code).toBe("ECONNREFUSED");
    } finally {
      await hub.up("bridge");
    }
    expect((await fetch(`${hub.url}/org/xet/resolve/main/model.gguf`)).status).toBe(200);
  });
});

describe("CDN ETag modes", () => {
  const get = (headers: Record<string, string> = {}) =>
    fetch(`${hub.url}/org/lfs/resolve/${sha}/model.gguf`, { headers });

  it("content (default): the sha256, stable, and If-Range with it applies the range", async () => {
    const first = await get();
    await first.body?.cancel();
    expect(first.headers.get("etag")).toBe(`"${BIG_SHA}"`);
    const resumed = await get({ Range: "bytes=100-", "If-Range": `"${BIG_SHA}"` });
    expect(resumed.status).toBe(206);
    await resumed.body?.cancel();
  });

  it("none: no ETag; a range without If-Range still applies", async () => {
    hub.settings.cdnEtag = "none";
    const first = await get();
    await first.body?.cancel();
    expect(first.headers.get("etag")).toBeNull();
    const resumed = await get({ Range: "bytes=100-" });
    expect(resumed.status).toBe(206);
    await resumed.body?.cancel();
  });

  it("per-request: a new ETag on every reply, so If-Range never matches and the whole body comes back", async () => {
    hub.settings.cdnEtag = "per-request";
    const first = await get();
    await first.body?.cancel();
    const etag = first.headers.get("etag");
    const resumed = await get({ Range: "bytes=100-", "If-Range": etag ?? "" });
    expect(resumed.headers.get("etag")).not.toBe(etag);
    expect(resumed.status).toBe(200);
    expect(Buffer.from(await resumed.arrayBuffer()).equals(BIG)).toBe(true);
  });
});

describe("stallBody", () => {
  it("sends afterBytes, then nothing, until the client gives up", async () => {
    hub.faults.set({ kind: "stallBody", where: "cdn", afterBytes: 1000 });
    const controller = new AbortController();
    const res = await fetch(`${hub.url}/org/lfs/resolve/${sha}/model.gguf`, { signal: controller.signal });
    const reader = res.body!.getReader();
    let received = 0;
    while (received < 1000) received += (await reader.read()).value?.byteLength ?? 0;
    expect(received).toBe(1000);
    // Nothing more arrives: a read still pending when a later timer fires proves the stall without timing it.
    const next = reader.read().then(
      () => "data",
      () => "aborted",
    );
    const state = await Promise.race([next, new Promise((resolve) => setTimeout(() => resolve("stalled"), 200))]);
    expect(state).toBe("stalled");
    controller.abort();
    expect(await next).toBe("aborted");
    expect(hub.faults.fired("stallBody")).toBe(1);
  });

  it("with stallMs, sends the rest after the stall", async () => {
    hub.faults.set({ kind: "stallBody", where: "bridge", afterBytes: 10, stallMs: 50 });
    const res = await fetch(`${hub.url}/org/xet/resolve/${xetSha}/model.gguf`);
    expect(Buffer.from(await res.arrayBuffer()).equals(BIG)).toBe(true);
  });
});

describe("disabled repos", () => {
  it("answer every route with a 403 carrying only X-Error-Message: Access to this resource is disabled.", async () => {
    hub.addRepo({ id: "org/disabled", files: { "config.json": SMALL, "model.gguf": BIG } });
    hub.updateRepo("org/disabled", { disabled: true });
    const replies = await Promise.all([
      fetch(`${hub.url}/api/models/org/disabled/revision/main`),
      pathsInfo("org/disabled", ["model.gguf"]),
      fetch(`${hub.url}/org/disabled/resolve/main/config.json`),
      fetch(`${hub.url}/org/disabled/resolve/main/model.gguf`, { redirect: "manual" }),
    ]);
    for (const res of replies) {
      expect(res.status).toBe(403);
      expect(res.headers.get("x-error-message")).toBe("Access to this resource is disabled.");
      expect(res.headers.get("x-error-code")).toBeNull();
      await res.body?.cancel();
    }
    hub.updateRepo("org/disabled", { disabled: false });
    expect((await fetch(`${hub.url}/api/models/org/disabled/revision/main`)).status).toBe(200);
  });
});

describe("storage errors", () => {
  it("cdnError: an S3-style XML error from the CDN or the bridge, without the Hub's headers", async () => {
    hub.faults.set({ kind: "cdnError", status: 403 });
    hub.faults.set({ kind: "cdnError", status: 404 });
    const cdn = await fetch(`${hub.url}/org/lfs/resolve/main/model.gguf`);
    const bridge = await fetch(`${hub.url}/org/xet/resolve/main/model.gguf`);
    expect([cdn.status, bridge.status]).toEqual([403, 404]);
    for (const res of [cdn, bridge]) {
      expect(res.headers.get("x-error-code")).toBeNull();
      expect(res.headers.get("x-error-message")).toBeNull();
      expect(res.headers.get("x-request-id")).toBeNull();
      expect(await res.text()).toMatch(/^<\?xml/);
    }
  });
});

describe("renamed repos", () => {
  it("answer the old name with a relative 307 to the new one, on the API (GET and POST) and on resolve", async () => {
    const renamedSha = hub.addRepo({ id: "old-org/old-name", files: { "config.json": SMALL, "model.gguf": BIG } });
    hub.renameRepo("old-org/old-name", "new-org/new-name");
    const info = await fetch(`${hub.url}/api/models/old-org/old-name/revision/main?expand=sha`, {
      redirect: "manual",
    });
    expect(info.status).toBe(307);
    expect(info.headers.get("location")).toBe("/api/models/new-org/new-name/revision/main?expand=sha");
    const followed = await fetch(`${hub.url}/api/models/old-org/old-name/revision/main`);
    expect(((await followed.json()) as { id: string; sha: string }).sha).toBe(renamedSha);
    const entries = (await (await pathsInfo("old-org/old-name", ["model.gguf"])).json()) as Array<{ path: string }>;
    expect(entries.map((e) => e.path)).toEqual(["model.gguf"]);
    const resolve = await fetch(`${hub.url}/old-org/old-name/resolve/main/config.json`, { redirect: "manual" });
    expect(resolve.status).toBe(307);
    expect(resolve.headers.get("location")).toBe("/new-org/new-name/resolve/main/config.json");
    expect(await (await fetch(`${hub.url}/old-org/old-name/resolve/main/config.json`)).text()).toBe(SMALL);
    expect(hub.repo("new-org/new-name").mainSha).toBe(renamedSha);
  });
});

describe("gzip small files", () => {
  /** node:http, which (unlike fetch) leaves the body compressed, to see what is on the wire. */
  const raw = (path: string, headers: Record<string, string>) =>
    new Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }>((resolve, reject) => {
      const req = request(`${hub.url}${path}`, { headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
      });
      req.on("error", reject);
      req.end();
    });

  it("come gzip-compressed, chunked, with a weak ETag, and ignore Range", async () => {
    hub.settings.gzipSmallFiles = true;
    const reply = await raw(`/org/lfs/resolve/${sha}/config.json`, {
      "Accept-Encoding": "gzip, deflate",
      Range: "bytes=5-",
    });
    expect(reply.status).toBe(200);
    expect(reply.headers["content-encoding"]).toBe("gzip");
    expect(reply.headers["transfer-encoding"]).toBe("chunked");
    expect(reply.headers["content-length"]).toBeUndefined();
    expect(reply.headers.etag).toMatch(/^W\/"[0-9a-f]{40}"$/);
    expect(gunzipSync(reply.body).toString()).toBe(SMALL);
    // Whatever the client accepts: fetch asks for identity with a Range, and decompresses it anyway.
    const identity = await raw(`/org/lfs/resolve/${sha}/config.json`, { "Accept-Encoding": "identity" });
    expect(identity.headers["content-encoding"]).toBe("gzip");
    const fetched = await fetch(`${hub.url}/org/lfs/resolve/${sha}/config.json`, { headers: { Range: "bytes=0-" } });
    expect([fetched.status, await fetched.text()]).toEqual([200, SMALL]);
    // Never an LFS file.
    const lfs = await fetch(`${hub.url}/org/lfs/resolve/${sha}/model.gguf`);
    expect(lfs.headers.get("content-encoding")).toBeNull();
    await lfs.body?.cancel();
  });
});
