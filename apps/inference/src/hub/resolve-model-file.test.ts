import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createHash } from "node:crypto";
import { existsSync, readlinkSync } from "node:fs";
import { mkdtemp, mkdir, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateTinyLlama, startFakeHub, type FakeHub } from "@slm/testkit";
import { resolveModelFile, type ResolveModelFileParams } from "./resolve-model-file.ts";
import {
  HubError,
  DiskFullError,
  DownloadInterruptedError,
  EntryNotFoundError,
  FloatingRevisionError,
  GatedRepoError,
  HubUnavailableError,
  IntegrityError,
  InvalidTokenError,
  LockedFileChangedError,
  LockedRevisionMovedError,
  NotCachedError,
  RateLimitedError,
  RepoNotFoundError,
  RevisionNotFoundError,
  UnverifiableCacheError,
} from "./errors.ts";
import { writeVerifiedMarker } from "./cache/verified-marker.ts";
import type { LockCheck } from "./policy/enforce-lock.ts";
import { createHubSession, type HubSessionOptions, type SupplyChainEvent } from "./session.ts";

const TOKEN = "hf_testreader0000000000";
const model = Buffer.from(generateTinyLlama({ seed: 7 }));
const sha256 = createHash("sha256").update(model).digest("hex");
/** 4 MiB of pseudo-random bytes: big enough that a reset lands mid-body, several CDN chunks long. */
const big = Buffer.alloc(4 << 20);
for (let i = 0, x = 1; i < big.length; i++) {
  x = (x * 1103515245 + 12345) & 0x7fffffff;
  big[i] = x >>> 16;
}
const bigSha = createHash("sha256").update(big).digest("hex");
const FAST = { retries: 3, baseDelayMs: 1, maxWaitMs: 2_000 };

let hub: FakeHub;
let commit: string;
let cacheDir: string;

beforeAll(async () => {
  hub = await startFakeHub();
  commit = hub.addRepo({
    id: "acme/tiny",
    license: "apache-2.0",
    files: { "tiny.gguf": model, "big.gguf": big, "README.md": "# tiny" },
  });
  hub.tag("acme/tiny", "v1", commit);
  hub.addRepo({ id: "acme/private", private: true, files: { "tiny.gguf": model } });
  hub.addRepo({ id: "acme/gated", gated: "manual", files: { "tiny.gguf": model } });
  hub.addToken(TOKEN, { canRead: ["acme/private"] });
});
afterAll(async () => {
  await hub.close();
});
beforeEach(async () => {
  cacheDir = await mkdtemp(join(tmpdir(), "hub-cache-"));
  hub.resetLog();
});
afterEach(async () => {
  hub.faults.clear();
  await rm(cacheDir, { recursive: true, force: true });
});

/** The file to resolve (acme/tiny v1 tiny.gguf unless told), in a session on the fake Hub with quick retries. */
const params = (
  overrides: Partial<Omit<ResolveModelFileParams, "session">> & Partial<HubSessionOptions> = {},
): ResolveModelFileParams => {
  const { repo = "acme/tiny", revision = "v1", file = "tiny.gguf", sha256, lock, ...session } = overrides;
  return {
    session: createHubSession({ hubUrl: hub.url, cacheDir, retry: FAST, ...session }),
    repo,
    revision,
    file,
    sha256,
    lock,
  };
};
const repoDir = (repo = "acme/tiny") => join(cacheDir, `models--${repo.replace("/", "--")}`);
/** Files under blobs/: a test that fails must leave none, and never a partial one. */
const blobs = async (repo?: string) => readdir(join(repoDir(repo), "blobs")).catch(() => [] as string[]);
const cdnGets = () => hub.requests.filter((r) => r.origin === "cdn" && r.method === "GET");
const collect = () => {
  const events: SupplyChainEvent[] = [];
  return { events, onEvent: (e: SupplyChainEvent) => events.push(e) };
};

describe("resolveModelFile", () => {
  it("resolves a tag to its commit, downloads into the Python layout and verifies sha256", async () => {
    const progress: number[] = [];
    const file = await resolveModelFile(params({ onProgress: (p) => progress.push(p.downloadedBytes) }));
    expect(file).toMatchObject({
      commit,
      sha256,
      size: model.length,
      license: "apache-2.0",
      source: "download",
      revisionKind: "tag",
    });
    expect(file.path).toBe(join(repoDir(), "snapshots", commit, "tiny.gguf"));
    expect(readlinkSync(file.path)).toBe(`../../blobs/${sha256}`);
    expect(await readFile(join(repoDir(), "refs", "v1"), "utf8")).toBe(commit);
    expect(await blobs()).toEqual([sha256]);
    expect(progress.at(-1)).toBe(model.length);
    // Our bookkeeping stays out of the Python client's view: only under <cache>/.locks.
    expect((await readdir(cacheDir)).sort()).toEqual([".locks", "models--acme--tiny"]);
  });

  it("serves a second start from the cache without downloading", async () => {
    await resolveModelFile(params());
    hub.resetLog();
    const again = await resolveModelFile(params());
    expect(again.source).toBe("cache");
    expect(hub.requests.filter((r) => r.origin === "cdn")).toEqual([]);
    expect(await blobs()).toEqual([sha256]);
  });

  it("sends the token to the Hub origin and never to the CDN", async () => {
    const file = await resolveModelFile(
      params({ repo: "acme/private", revision: "main", accessToken: TOKEN, allowFloatingRevision: true }),
    );
    expect(file.sha256).toBe(sha256);
    const hubSaw = hub.requests.filter((r) => r.origin === "hub").map((r) => r.headers.authorization);
    const cdn = hub.requests.filter((r) => r.origin === "cdn");
    expect(hubSaw.every((h) => h === `Bearer ${TOKEN}`)).toBe(true);
    expect(cdn.length).toBeGreaterThan(0);
    expect(cdn.map((r) => r.headers.authorization)).toEqual(cdn.map(() => undefined));
    expect(await blobs("acme/private")).toEqual([sha256]);
  });

  it.each([
    [
      "a missing file",
      { file: "nope.gguf" },
      EntryNotFoundError,
      /file not found.*tiny\.gguf.*repo acme\/tiny, revision v1, file nope\.gguf/,
    ],
    ["an unknown revision", { revision: "v9" }, RevisionNotFoundError, /revision not found.*revision v9/],
    [
      "a private repo without token",
      { repo: "acme/private" },
      RepoNotFoundError,
      /private and no HF_TOKEN.*repo acme\/private/,
    ],
    ["a refused token", { accessToken: "hf_not_a_known_token" }, InvalidTokenError, /refused the token/],
    ["a gated repo without token", { repo: "acme/gated", revision: "main" }, GatedRepoError, /gated repository/],
    [
      "a gated repo, token not approved",
      { repo: "acme/gated", revision: "main", accessToken: TOKEN },
      GatedRepoError,
      /not been granted/,
    ],
  ])("fails clearly on %s and caches nothing", async (_name, overrides, type, message) => {
    const error = await resolveModelFile(params(overrides)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(type);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toContain(hub.url);
    expect(await blobs((overrides as { repo?: string }).repo)).toEqual([]);
  });

  it("deletes a corrupted download (one flipped byte) and names the mismatch", async () => {
    hub.faults.set({ kind: "corruptBody", where: "cdn" });
    const error = await resolveModelFile(params()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IntegrityError);
    expect((error as Error).message).toMatch(/sha256 .* expected .*repo acme\/tiny, revision v1, file tiny\.gguf/);
    expect(await blobs()).toEqual([]);
    expect(existsSync(join(repoDir(), "snapshots", commit, "tiny.gguf"))).toBe(false);
  });

  it("resumes a truncated body with Range and verifies the whole file", async () => {
    hub.faults.set({ kind: "truncateBody", where: "cdn", sendBytes: 1000 });
    const { events, onEvent } = collect();
    const file = await resolveModelFile(params({ onEvent }));
    expect(file).toMatchObject({ sha256, source: "download" });
    expect(cdnGets().map((r) => r.headers.range)).toEqual(["bytes=0-", "bytes=1000-"]);
    expect(events.some((e) => e.level === "warn" && /resuming from byte 1000/.test(e.msg))).toBe(true);
    expect(await blobs()).toEqual([sha256]);
  });

  it("gives up on a body that keeps breaking off and leaves no partial file", async () => {
    hub.faults.set({ kind: "truncateBody", where: "cdn", sendBytes: 0, times: Number.POSITIVE_INFINITY });
    const error = await resolveModelFile(params()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DownloadInterruptedError);
    expect((error as Error).message).toMatch(
      /download stopped before the end of the file.*repo acme\/tiny, revision v1, file tiny\.gguf/,
    );
    expect(cdnGets()).toHaveLength(FAST.retries + 1);
    expect(await blobs()).toEqual([]);
  });

  it("resumes after a connection reset mid-body, re-sending fewer bytes than the file", async () => {
    hub.faults.set({ kind: "resetMidBody", where: "cdn", afterBytes: 3 << 20 });
    const file = await resolveModelFile(params({ file: "big.gguf" }));
    expect(file).toMatchObject({ sha256: bigSha, size: big.length, source: "download" });
    const [first, second] = cdnGets();
    expect(first?.headers.range).toBe("bytes=0-");
    expect(second?.headers.range).toMatch(/^bytes=\d+-$/);
    expect(second?.headers["if-range"]).toBe(`"${bigSha}"`);
    const resent = hub.cdnBytesSent - big.length;
    expect(resent).toBeGreaterThanOrEqual(0);
    expect(resent).toBeLessThan(big.length);
    expect(file.fetchedBytes).toBeLessThan(2 * big.length);
    expect(await blobs()).toEqual([bigSha]);
  });

  it("starts over when a resumed request gets the whole body (If-Range did not match)", async () => {
    hub.faults.set({ kind: "resetMidBody", where: "cdn", afterBytes: 1 << 20 });
    const staleValidator: typeof fetch = (input, init) => {
      const headers = new Headers(init?.headers);
      if (headers.has("if-range")) headers.set("if-range", '"another-version"');
      return fetch(input, { ...init, headers });
    };
    const { events, onEvent } = collect();
    const file = await resolveModelFile(params({ file: "big.gguf", fetch: staleValidator, onEvent }));
    expect(file.sha256).toBe(bigSha);
    expect(cdnGets().map((r) => r.status)).toEqual([206, 200]);
    expect(events.some((e) => /sent the whole file to a resumed request.*downloading from the start/.test(e.msg))).toBe(
      true,
    );
    expect(await blobs()).toEqual([bigSha]);
  });

  it("resumes a partial file a killed process left behind", async () => {
    await mkdir(join(repoDir(), "blobs"), { recursive: true });
    await writeFile(join(repoDir(), "blobs", `${bigSha}.incomplete`), big.subarray(0, 1 << 20));
    const file = await resolveModelFile(params({ file: "big.gguf" }));
    expect(file.sha256).toBe(bigSha);
    expect(cdnGets().map((r) => r.headers.range)).toEqual([`bytes=${1 << 20}-`]);
    expect(hub.cdnBytesSent).toBe(big.length - (1 << 20));
    expect(await blobs()).toEqual([bigSha]);
  });

  it("finishes a complete partial file a process left when it died after the last byte, without a request", async () => {
    await mkdir(join(repoDir(), "blobs"), { recursive: true });
    await writeFile(join(repoDir(), "blobs", `${bigSha}.incomplete`), big);
    const file = await resolveModelFile(params({ file: "big.gguf" }));
    expect(file.sha256).toBe(bigSha);
    expect(cdnGets()).toEqual([]);
    expect(await blobs()).toEqual([bigSha]);
  });

  it("refuses a Hub that names the blob with a path, and writes nothing outside the cache", async () => {
    const outside = await mkdtemp(join(tmpdir(), "hostile-target-"));
    const hostileOid = `../../../../../../../../${outside.slice(1)}/x`;
    const proxy = await startRewritingProxy(hub.url, (path, body) =>
      path.includes("/paths-info/")
        ? body.replace(/"oid":"[0-9a-f]{64}"/g, `"oid":${JSON.stringify(hostileOid)}`)
        : body,
    );
    try {
      const error = await resolveModelFile(params({ hubUrl: proxy.url })).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(HubError);
      expect((error as HubError).code).toBe("unexpected_hub_response");
      expect((error as Error).message).toMatch(/malformed oid/);
      expect(await readdir(outside)).toEqual([]);
      expect(await blobs()).toEqual([]);
      expect(cdnGets()).toEqual([]);
    } finally {
      await proxy.close();
      await rm(outside, { recursive: true, force: true });
    }
  });

  it("retries 429 after the Retry-After the Hub asks for, then succeeds", async () => {
    hub.faults.set({ kind: "rateLimit", where: "api", retryAfterSeconds: 1 });
    const { events, onEvent } = collect();
    const file = await resolveModelFile(params({ onEvent }));
    expect(file.sha256).toBe(sha256);
    expect(hub.faults.fired("rateLimit")).toBe(1);
    expect(events.filter((e) => e.fields.code === "rate_limited").map((e) => e.fields.waitMs)).toEqual([1000]);
    expect(await blobs()).toEqual([sha256]);
  });

  it("retries 503 with backoff on the API and on the CDN, then succeeds", async () => {
    hub.faults.set({ kind: "serverError", status: 503, where: "api", times: 2 });
    hub.faults.set({ kind: "serverError", status: 503, where: "cdn" });
    const { events, onEvent } = collect();
    const file = await resolveModelFile(params({ onEvent }));
    expect(file.sha256).toBe(sha256);
    expect(hub.faults.fired("serverError")).toBe(3);
    expect(events.filter((e) => e.fields.code === "hub_unavailable")).toHaveLength(3);
    expect(await blobs()).toEqual([sha256]);
  });

  it("fails at once with the wait when the Hub rate-limits for longer than HUB_RETRY_MAX_WAIT_MS", async () => {
    hub.faults.set({ kind: "rateLimit", where: "api", retryAfterSeconds: 120, times: Number.POSITIVE_INFINITY });
    const started = Date.now();
    const error = await resolveModelFile(params()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitedError);
    expect((error as RateLimitedError).retryAfterSeconds).toBe(120);
    expect((error as Error).message).toMatch(
      /rate limiting requests; retry after 120s \(repo acme\/tiny, revision v1, file tiny\.gguf\)/,
    );
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(await blobs()).toEqual([]);
  });

  it("serves the cached commit when the Hub keeps rate-limiting", async () => {
    await resolveModelFile(params());
    hub.faults.set({ kind: "rateLimit", where: "api", retryAfterSeconds: 120, times: Number.POSITIVE_INFINITY });
    const reasons: string[] = [];
    const file = await resolveModelFile(params({ onFallback: (e) => reasons.push(e.code) }));
    expect(file).toMatchObject({ commit, sha256, source: "cache" });
    expect(reasons).toEqual(["rate_limited"]);
  });

  it("maps a full disk to DiskFullError and removes the partial file", async () => {
    // A partial file that is really /dev/full: every write fails with the kernel's own ENOSPC.
    await mkdir(join(repoDir(), "blobs"), { recursive: true });
    await symlink("/dev/full", join(repoDir(), "blobs", `${sha256}.incomplete`));
    const error = await resolveModelFile(params()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DiskFullError);
    expect((error as Error).message).toMatch(
      /no space left .*needs \d+ bytes.*repo acme\/tiny, revision v1, file tiny\.gguf/,
    );
    expect(await blobs()).toEqual([]);
  });

  it("refuses content that differs from a pinned MODEL_SHA256 before downloading", async () => {
    await expect(resolveModelFile(params({ sha256: "0".repeat(64) }))).rejects.toThrow(/MODEL_SHA256 pins/);
    expect(hub.requests.filter((r) => r.origin === "cdn")).toEqual([]);
    expect(await blobs()).toEqual([]);
  });

  it("falls back to the cached commit when the Hub is down, and says why when nothing is cached", async () => {
    await hub.down();
    try {
      const error = await resolveModelFile(params()).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(HubUnavailableError);
      expect((error as Error).message).toMatch(
        /unreachable \(connection refused\) and nothing is cached.*repo acme\/tiny, revision v1/,
      );
      // ... and what to do about it.
      expect((error as Error).message).toMatch(/HF_ENDPOINT.*`pnpm models:pull`.*HF_HUB_OFFLINE=1.*`pnpm demo`/);
      expect(await blobs()).toEqual([]);
    } finally {
      await hub.up();
    }
    await resolveModelFile(params());
    await hub.down();
    const reasons: string[] = [];
    try {
      const file = await resolveModelFile(params({ onFallback: (e) => reasons.push(e.code) }));
      expect(file).toMatchObject({ commit, sha256, source: "cache" });
      expect(reasons).toEqual(["hub_unavailable"]);
      expect(await blobs()).toEqual([sha256]);
    } finally {
      await hub.up();
    }
  });

  it("starts offline from a cache laid out by hand the way the Python client does, with no request", async () => {
    const dir = repoDir();
    await mkdir(join(dir, "blobs"), { recursive: true });
    await mkdir(join(dir, "refs"), { recursive: true });
    await mkdir(join(dir, "snapshots", commit), { recursive: true });
    await writeFile(join(dir, "blobs", sha256), model);
    await writeFile(join(dir, "refs", "main"), commit);
    await symlink(`../../blobs/${sha256}`, join(dir, "snapshots", commit, "tiny.gguf"));
    const file = await resolveModelFile(params({ revision: "main", offline: true }));
    expect(file).toMatchObject({ commit, sha256, source: "offline-cache" });
    expect(hub.requests).toEqual([]);
    await expect(resolveModelFile(params({ revision: "v2", offline: true }))).rejects.toBeInstanceOf(NotCachedError);
    expect(await blobs()).toEqual([sha256]);
  });
});

describe("offline starts verify against something", () => {
  const laySnapshotAsFile = async (bytes: Buffer) => {
    const dir = repoDir();
    await mkdir(join(dir, "refs"), { recursive: true });
    await mkdir(join(dir, "snapshots", commit), { recursive: true });
    await writeFile(join(dir, "refs", "main"), commit);
    await rm(join(dir, "snapshots", commit, "tiny.gguf"), { force: true });
    await writeFile(join(dir, "snapshots", commit, "tiny.gguf"), bytes); // a plain file, as a copying client leaves it
  };

  it("refuses a cached plain file that nothing can verify (no lock, no MODEL_SHA256, never seen online)", async () => {
    const tampered = Buffer.from(model);
    tampered[200] = tampered[200]! ^ 0xff;
    await laySnapshotAsFile(tampered);
    const error = await resolveModelFile(params({ revision: "main", offline: true })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnverifiableCacheError);
    expect((error as Error).message).toMatch(
      /cannot be verified.*Start once with the Hub reachable, or set MODEL_SHA256/,
    );
    // With the checksum pinned it is checked, and a wrong file is refused.
    const pinned = await resolveModelFile(params({ revision: "main", offline: true, sha256 })).catch((e: unknown) => e);
    expect(pinned).toBeInstanceOf(IntegrityError);
    expect(hub.requests).toEqual([]);
  });

  it("checks a cached plain file against the sha256 recorded when the commit was verified online", async () => {
    await resolveModelFile(params({ revision: "main", allowFloatingRevision: true }));
    const tampered = Buffer.from(model);
    tampered[200] = tampered[200]! ^ 0xff;
    await laySnapshotAsFile(tampered);
    const error = await resolveModelFile(params({ revision: "main", offline: true })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IntegrityError);
    await laySnapshotAsFile(model);
    await expect(resolveModelFile(params({ revision: "main", offline: true }))).resolves.toMatchObject({
      commit,
      sha256,
      source: "offline-cache",
    });
  });
});

describe("verified marker", () => {
  it("trusts a blob whose size, mtime and inode match its marker, and MODEL_REVERIFY rehashes it", async () => {
    const file = await resolveModelFile(params());
    const blob = join(repoDir(), "blobs", sha256);
    // Corrupt the blob behind the cache's back, then forge a marker for its new state: only a rehash can tell.
    const corrupt = Buffer.from(model);
    corrupt[100] = corrupt[100]! ^ 0xff;
    await writeFile(blob, corrupt);
    await writeVerifiedMarker(join(cacheDir, ".locks", "models--acme--tiny", `${sha256}.slm-verified.json`), blob, {
      sha256,
    });
    await expect(resolveModelFile(params())).resolves.toMatchObject({ sha256, path: file.path });
    const error = await resolveModelFile(params({ reverify: true })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IntegrityError);
    expect(await blobs()).toEqual([]);
  });

  it("rehashes a blob that changed since it was verified and deletes it when it no longer matches", async () => {
    await resolveModelFile(params());
    const corrupt = Buffer.from(model);
    corrupt[100] = corrupt[100]! ^ 0xff;
    await writeFile(join(repoDir(), "blobs", sha256), corrupt); // same size, new mtime
    const error = await resolveModelFile(params({ offline: true })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IntegrityError);
    expect(await blobs()).toEqual([]);
    expect(existsSync(join(repoDir(), "snapshots", commit, "tiny.gguf"))).toBe(false);
  });
});

describe("floating revisions", () => {
  it("refuses a branch in production before downloading anything", async () => {
    const error = await resolveModelFile(params({ revision: "main", production: true })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FloatingRevisionError);
    expect((error as Error).message).toMatch(
      /names a branch.*MODEL_ALLOW_FLOATING_REVISION=1 \(repo acme\/tiny, revision main, file tiny\.gguf\)/,
    );
    expect(cdnGets()).toEqual([]);
    expect(await blobs()).toEqual([]);
  });

  it("serves a branch in production when allowed, and warns about it outside production", async () => {
    await expect(
      resolveModelFile(params({ revision: "main", production: true, allowFloatingRevision: true })),
    ).resolves.toMatchObject({
      revisionKind: "branch",
    });
    const { events, onEvent } = collect();
    await resolveModelFile(params({ revision: "main", onEvent }));
    expect(events.filter((e) => e.level === "warn").map((e) => e.msg)).toEqual([
      expect.stringMatching(/is a branch \(floating\)/),
    ]);
  });

  it("accepts a tag or a commit in production", async () => {
    await expect(resolveModelFile(params({ production: true }))).resolves.toMatchObject({ revisionKind: "tag" });
    hub.resetLog();
    await expect(resolveModelFile(params({ revision: commit, production: true }))).resolves.toMatchObject({
      revisionKind: "commit",
    });
    expect(hub.requests.some((r) => r.path.endsWith("/refs"))).toBe(false);
  });
});

describe("lockfile enforcement", () => {
  const lock = (overrides: Partial<LockCheck["locked"]> = {}): LockCheck => ({
    lockfile: "models.lock.json",
    locked: {
      role: "model",
      repo: "acme/tiny",
      revision: "v1",
      commit,
      file: "tiny.gguf",
      size: model.length,
      sha256,
      license: "apache-2.0",
      ...overrides,
    },
  });

  it("refuses a tag that moved after locking, before downloading", async () => {
    const moved = hub.commit("acme/tiny", { "notes.txt": "moved" });
    hub.tag("acme/tiny", "v1-moving", moved);
    const error = await resolveModelFile(
      params({ revision: "v1-moving", lock: lock({ revision: "v1-moving" }) }),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LockedRevisionMovedError);
    expect((error as Error).message).toMatch(
      new RegExp(`now points to commit ${moved} but models.lock.json pins ${commit}`),
    );
    expect(cdnGets()).toEqual([]);
    expect(await blobs()).toEqual([]);
  });

  it("refuses a file whose checksum differs from the lock", async () => {
    const error = await resolveModelFile(params({ lock: lock({ sha256: "f".repeat(64) }) })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LockedFileChangedError);
    expect((error as Error).message).toMatch(/differs from models.lock.json: sha256 is .*the lock says f{64}/);
    expect(await blobs()).toEqual([]);
  });

  it("serves the locked commit offline and refuses a cached file the lock does not name", async () => {
    await resolveModelFile(params({ lock: lock() }));
    await expect(resolveModelFile(params({ offline: true, lock: lock() }))).resolves.toMatchObject({
      commit,
      locked: true,
      license: "apache-2.0",
    });
    await expect(resolveModelFile(params({ offline: true, lock: lock({ size: 1 }) }))).rejects.toBeInstanceOf(
      LockedFileChangedError,
    );
    expect(await blobs()).toEqual([sha256]);
  });
});

/** A loopback proxy in front of the fake Hub's API origin that rewrites response bodies: a hostile or intercepted Hub. */
async function startRewritingProxy(
  target: string,
  rewrite: (path: string, body: string) => string,
): Promise<{ url: string; close(): Promise<void> }> {
  const { createServer } = await import("node:http");
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const headers = Object.fromEntries(
      Object.entries(req.headers).filter(([k]) => !["host", "connection", "content-length"].includes(k)),
    ) as Record<string, string>;
    const upstream = await fetch(`${target}${req.url}`, {
      method: req.method,
      headers,
      redirect: "manual",
      ...(chunks.length ? { body: Buffer.concat(chunks) } : {}),
    });
    const body = rewrite(req.url ?? "", await upstream.text());
    const out: Record<string, string> = {};
    upstream.headers.forEach((value, key) => {
      if (!["content-length", "content-encoding", "transfer-encoding", "connection"].includes(key)) out[key] = value;
    });
    res.writeHead(upstream.status, out);
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}
