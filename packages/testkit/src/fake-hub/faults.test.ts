/**
 * Every fault switch, seen by raw fetch and by @huggingface/hub 2.17.5.
 */
import { access, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { downloadFileToCacheDir, type HubApiError, InvalidApiResponseFormatError, modelInfo } from "@huggingface/hub";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { sha256Hex } from "./hashing.ts";
import { startFakeHub } from "./start-fake-hub.ts";
import type { FakeHub } from "./types.ts";

const REPO = "org/faulty";
const SMALL = "small file body, about forty bytes long";
const BIG = Buffer.alloc(3 * 1024 * 1024, 0);
for (let i = 0; i < BIG.length; i++) BIG[i] = (i * 7) % 256;

let hub: FakeHub;
let sha: string;
let cacheDir: string;

/** Reads a body until it ends or fails; returns the bytes and the failure. */
async function drain(res: Response): Promise<{ bytes: Buffer; error: unknown }> {
  const chunks: Buffer[] = [];
  const reader = res.body?.getReader();
  if (!reader) return { bytes: Buffer.alloc(0), error: undefined };
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(Buffer.from(value));
    }
    return { bytes: Buffer.concat(chunks), error: undefined };
  } catch (error) {
    return { bytes: Buffer.concat(chunks), error };
  }
}

function download(path: string): Promise<string> {
  return downloadFileToCacheDir({ repo: REPO, path, revision: sha, hubUrl: hub.url, cacheDir });
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

beforeAll(async () => {
  hub = await startFakeHub();
  sha = hub.addRepo({ id: REPO, files: { "small.txt": SMALL, "model.gguf": BIG } });
});

afterAll(async () => {
  await hub.close();
});

beforeEach(async () => {
  hub.faults.clear();
  hub.resetLog();
  cacheDir = await mkdtemp(join(tmpdir(), "fake-hub-faults-"));
  vi.spyOn(console, "debug").mockImplementation(() => {});
});

afterEach(async () => {
  vi.restoreAllMocks();
  await rm(cacheDir, { recursive: true, force: true });
});

describe("rateLimit", () => {
  it("answers 429 with RateLimit headers and no Retry-After, as the real Hub does, then succeeds", async () => {
    const fault = hub.faults.set({ kind: "rateLimit", times: 1, retryAfterSeconds: 7 });
    const limited = await fetch(`${hub.url}/api/models/${REPO}`);
    expect(limited.status).toBe(429);
    expect(limited.headers.get("retry-after")).toBeNull();
    expect(limited.headers.get("ratelimit")).toBe('"api";r=0;t=7');
    expect(limited.headers.get("ratelimit-policy")).toBe('"fixed window";"api";q=500;w=300');
    expect(limited.headers.get("x-error-code")).toBeNull();
    expect(((await limited.json()) as { error: string }).error).toBeTruthy();
    expect(fault.fired).toBe(1);
    expect(fault.remaining).toBe(0);
    expect(hub.faults.active).toHaveLength(0);
    expect((await fetch(`${hub.url}/api/models/${REPO}`)).status).toBe(200);
  });

  it("adds Retry-After when asked, and says resolvers on the resolve route", async () => {
    hub.faults.set({ kind: "rateLimit", where: "resolve", retryAfterSeconds: 3, retryAfterHeader: true });
    const limited = await fetch(`${hub.url}/${REPO}/resolve/main/small.txt`);
    expect(limited.status).toBe(429);
    expect(limited.headers.get("retry-after")).toBe("3");
    expect(limited.headers.get("ratelimit")).toBe('"resolvers";r=0;t=3');
  });

  it("can target one API route only (paths-info), leaving the others alone", async () => {
    hub.faults.set({ kind: "rateLimit", route: "paths-info", times: Number.POSITIVE_INFINITY });
    const pathsInfo = () =>
      fetch(`${hub.url}/api/models/${REPO}/paths-info/main`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ paths: ["small.txt"] }),
      });
    expect((await fetch(`${hub.url}/api/models/${REPO}/revision/main`)).status).toBe(200);
    expect((await fetch(`${hub.url}/api/models/${REPO}/refs`)).status).toBe(200);
    expect((await pathsInfo()).status).toBe(429);
    expect((await pathsInfo()).status).toBe(429);
    expect((await fetch(`${hub.url}/${REPO}/resolve/main/small.txt`)).status).toBe(200);
    expect(hub.requestCounts()).toMatchObject({ revision: 1, refs: 1, "paths-info": 2, resolve: 1 });
    expect(hub.apiRequestCount()).toBe(4);
  });

  it("surfaces as a HubApiError in the client", async () => {
    hub.faults.set({ kind: "rateLimit", times: 2 });
    for (let i = 0; i < 2; i++) {
      const err = await modelInfo({ name: REPO, hubUrl: hub.url }).catch((e: unknown) => e);
      expect((err as HubApiError).statusCode).toBe(429);
    }
    expect((await modelInfo({ name: REPO, hubUrl: hub.url, additionalFields: ["sha"] })).sha).toBe(sha);
    expect(hub.faults.fired("rateLimit")).toBeGreaterThanOrEqual(2);
  });

  it("can target one file on the resolve route", async () => {
    hub.faults.set({ kind: "rateLimit", path: "small.txt", times: Number.POSITIVE_INFINITY });
    expect((await fetch(`${hub.url}/api/models/${REPO}`)).status).toBe(200);
    expect((await fetch(`${hub.url}/${REPO}/resolve/main/model.gguf`, { redirect: "manual" })).status).toBe(302);
    expect((await fetch(`${hub.url}/${REPO}/resolve/main/small.txt`)).status).toBe(429);
    expect((await fetch(`${hub.url}/${REPO}/resolve/main/small.txt`)).status).toBe(429);
    hub.faults.clear("rateLimit");
    expect((await fetch(`${hub.url}/${REPO}/resolve/main/small.txt`)).status).toBe(200);
  });
});

describe("serverError", () => {
  it("answers 5xx the given number of times, then succeeds", async () => {
    hub.faults.set({ kind: "serverError", status: 503, times: 2, retryAfterSeconds: 1 });
    const first = await fetch(`${hub.url}/api/models/${REPO}/paths-info/main`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ paths: ["small.txt"] }),
    });
    expect(first.status).toBe(503);
    expect(first.headers.get("retry-after")).toBe("1");
    const err = await download("small.txt").catch((e: unknown) => e);
    expect((err as HubApiError).statusCode).toBe(503);
    expect(await readFile(await download("small.txt"), "utf8")).toBe(SMALL);
  });

  it("can hit the CDN only", async () => {
    hub.faults.set({ kind: "serverError", where: "cdn", status: 502 });
    const res = await fetch(`${hub.url}/${REPO}/resolve/main/model.gguf`);
    expect(res.status).toBe(502);
    // The CDN is not the Hub: an XML body and none of the Hub's error headers.
    expect(res.headers.get("x-error-message")).toBeNull();
    expect(res.headers.get("content-type")).toBe("application/xml");
    expect(hub.requests.map((r) => `${r.origin}:${r.status}`)).toEqual(["hub:302", "cdn:502"]);
    expect((await fetch(`${hub.url}/${REPO}/resolve/main/model.gguf`, { method: "HEAD" })).status).toBe(200);
  });
});

describe("truncateBody", () => {
  it("keeps the full Content-Length but closes early", async () => {
    hub.faults.set({ kind: "truncateBody", path: "small.txt", sendBytes: 10 });
    const res = await fetch(`${hub.url}/${REPO}/resolve/main/small.txt`);
    expect(res.headers.get("content-length")).toBe(String(SMALL.length));
    const { bytes, error } = await drain(res);
    expect(bytes.toString()).toBe(SMALL.slice(0, 10));
    expect(error).toBeInstanceOf(Error);
  });

  it("makes the client fail (skipping its bytes=0-0 probe) and leave an .incomplete file", async () => {
    hub.faults.set({ kind: "truncateBody", path: "model.gguf" });
    const err = await download("model.gguf").catch((e: unknown) => e);
    expect(err).toBeTruthy();
    const blobs = await readdir(join(cacheDir, "models--org--faulty", "blobs"));
    expect(blobs).toEqual([`${sha256Hex(BIG)}.incomplete`]);
    expect(await exists(join(cacheDir, "models--org--faulty", "snapshots", sha, "model.gguf"))).toBe(false);
    // The fault was one-shot: a retry succeeds.
    expect((await readFile(await download("model.gguf"))).equals(BIG)).toBe(true);
  });
});

describe("corruptBody", () => {
  it("flips one byte, keeps the length, and the client saves it as valid", async () => {
    hub.faults.set({ kind: "corruptBody", path: "model.gguf" });
    const saved = await readFile(await download("model.gguf"));
    expect(saved.length).toBe(BIG.length);
    expect(sha256Hex(saved)).not.toBe(sha256Hex(BIG));
    let diffs = 0;
    for (let i = 0; i < BIG.length; i++) if (saved[i] !== BIG[i]) diffs++;
    expect(diffs).toBe(1);
  });
});

describe("missingEtag", () => {
  it("drops ETag on the resolve route; the client rejects the reply", async () => {
    hub.faults.set({ kind: "missingEtag", path: "small.txt" });
    const err = await download("small.txt").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidApiResponseFormatError);
    expect((err as Error).message).toBe("Expected ETag");
  });

  it("drops ETag and X-Linked-Etag from the LFS redirect, or ETag from the CDN", async () => {
    hub.faults.set({ kind: "missingEtag", where: "resolve" });
    const redirect = await fetch(`${hub.url}/${REPO}/resolve/main/model.gguf`, { method: "HEAD", redirect: "manual" });
    expect(redirect.status).toBe(302);
    expect(redirect.headers.get("etag")).toBeNull();
    expect(redirect.headers.get("x-linked-etag")).toBeNull();
    expect(redirect.headers.get("x-linked-size")).toBe(String(BIG.length));

    hub.faults.set({ kind: "missingEtag", where: "cdn" });
    const cdn = await fetch(`${hub.url}/${REPO}/resolve/main/model.gguf`, { method: "HEAD" });
    expect(cdn.status).toBe(200);
    expect(cdn.headers.get("etag")).toBeNull();
  });
});

describe("resetMidBody", () => {
  it("resets the connection after afterBytes; a Range request resumes", async () => {
    const afterBytes = 1024 * 1024;
    hub.faults.set({ kind: "resetMidBody", path: "model.gguf", afterBytes });
    const res = await fetch(`${hub.url}/${REPO}/resolve/main/model.gguf`);
    expect(res.status).toBe(200);
    const first = await drain(res);
    expect(first.error).toBeInstanceOf(Error);
    expect(first.bytes.length).toBeGreaterThan(0);
    expect(first.bytes.length).toBeLessThanOrEqual(afterBytes);
    expect(hub.cdnBytesSent).toBe(afterBytes);

    const resumed = await fetch(res.url, { headers: { Range: `bytes=${first.bytes.length}-` } });
    expect(resumed.status).toBe(206);
    expect(resumed.headers.get("content-range")).toBe(`bytes ${first.bytes.length}-${BIG.length - 1}/${BIG.length}`);
    const rest = await drain(resumed);
    expect(rest.error).toBeUndefined();
    expect(Buffer.concat([first.bytes, rest.bytes]).equals(BIG)).toBe(true);
    expect(hub.cdnBytesSent).toBe(afterBytes + BIG.length - first.bytes.length);
  });
});

describe("slowBody", () => {
  it("sends the headers at once and the body only after delayMs", async () => {
    hub.faults.set({ kind: "slowBody", path: "model.gguf", delayMs: 300 });
    const started = performance.now();
    const res = await fetch(`${hub.url}/${REPO}/resolve/main/model.gguf`);
    const headersAfter = performance.now() - started;
    const body = await drain(res);
    expect(body.bytes.equals(BIG)).toBe(true);
    expect(headersAfter).toBeLessThan(250);
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
    expect(hub.faults.fired("slowBody")).toBe(1);
  });
});

describe("down", () => {
  it("resets every connection to both origins while set", async () => {
    const cdnLocation = (await fetch(`${hub.url}/${REPO}/resolve/main/model.gguf`, { redirect: "manual" })).headers.get(
      "location",
    );
    hub.faults.set({ kind: "down" });
    await expect(fetch(`${hub.url}/api/models/${REPO}`)).rejects.toThrow(TypeError);
    await expect(fetch(cdnLocation ?? "")).rejects.toThrow(TypeError);
    hub.faults.clear();
    expect((await fetch(`${hub.url}/api/models/${REPO}`)).status).toBe(200);
  });

  it("hub.down() refuses connections and hub.up() comes back on the same ports", async () => {
    const { url, cdnUrl } = hub;
    await hub.down();
    try {
      for (const origin of [url, cdnUrl]) {
        const err = await fetch(`${origin}/api/models/${REPO}`).catch((e: unknown) => e);
        expect((err as { cause?: { code?: string } }).cause?.code).toBe("ECONNREFUSED");
      }
    } finally {
      await hub.up();
    }
    expect(hub.url).toBe(url);
    expect(hub.cdnUrl).toBe(cdnUrl);
    const res = await fetch(`${url}/${REPO}/resolve/main/model.gguf`);
    expect(Buffer.from(await res.arrayBuffer()).equals(BIG)).toBe(true);
  });
});

describe("fault handles", () => {
  it("match by repo, count firings and can be cleared one by one", async () => {
    const other = hub.faults.set({ kind: "serverError", repo: "org/other", times: 5 });
    const mine = hub.faults.set({ kind: "serverError", repo: REPO, times: 5 });
    expect((await fetch(`${hub.url}/api/models/${REPO}`)).status).toBe(500);
    expect(other.fired).toBe(0);
    expect(mine.fired).toBe(1);
    expect(mine.remaining).toBe(4);
    mine.clear();
    expect(hub.faults.active).toEqual([other]);
    expect((await fetch(`${hub.url}/api/models/${REPO}`)).status).toBe(200);
  });
});
