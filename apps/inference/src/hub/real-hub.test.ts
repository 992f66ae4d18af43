// The supply chain against the real Hub's behaviours of the Xet era, each switched on in the fake Hub: Xet-stored
// repos and their bridge, the bridge's unranged-size limit, stalled bodies, CDN ETag modes, 429s with `RateLimit`
// and no `Retry-After` (on one route only, too), a disabled repo, storage errors without Hub headers, a relative
// 307 rename, gzip small files; and what the client sends (User-Agent, never the Xet Accept) and how often it asks.
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readdir, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateTinyLlama, startFakeHub, type FakeHub } from "@slm/testkit";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  DownloadRefusedError,
  HubUnavailableError,
  LockedRevisionMovedError,
  RateLimitedError,
  RepoDisabledError,
} from "./errors.ts";
import type { LockCheck } from "./policy/index.ts";
import { USER_AGENT } from "./remote/index.ts";
import { resolveModelFile, resolveRepoFiles, type ResolveModelFileParams } from "./resolve-model-file.ts";
import { createHubSession, type HubSessionOptions, type SupplyChainEvent } from "./session.ts";

const model = Buffer.from(generateTinyLlama({ seed: 11 }));
const sha256 = createHash("sha256").update(model).digest("hex");
/** 2 MiB of pseudo-random bytes: two CDN chunks, so a stall or a reset lands mid-body. */
const big = Buffer.alloc(2 << 20);
for (let i = 0, x = 7; i < big.length; i++) {
  x = (x * 1103515245 + 12345) & 0x7fffffff;
  big[i] = x >>> 16;
}
const bigSha = createHash("sha256").update(big).digest("hex");
const CONFIG = JSON.stringify({ model_type: "llama", note: "a small file, kept in git rather than LFS" });
const FAST = { retries: 3, baseDelayMs: 1, maxWaitMs: 2_000 };

let hub: FakeHub;
let lfsCommit: string;
let xetCommit: string;
let cacheDir: string;

beforeAll(async () => {
  hub = await startFakeHub();
  const files = { "tiny.gguf": model, "big.gguf": big, "config.json": CONFIG };
  lfsCommit = hub.addRepo({ id: "acme/lfs", files });
  xetCommit = hub.addRepo({ id: "acme/xet", xet: true, files });
  hub.tag("acme/lfs", "v1", lfsCommit);
  hub.tag("acme/xet", "v1", xetCommit);
});
afterAll(async () => hub.close());
beforeEach(async () => {
  cacheDir = await mkdtemp(join(tmpdir(), "real-hub-"));
  hub.resetLog();
});
afterEach(async () => {
  hub.faults.clear();
  Object.assign(hub.settings, { cdnEtag: "content", unrangedLimitBytes: 50 * 1024 ** 3, gzipSmallFiles: false });
  await rm(cacheDir, { recursive: true, force: true });
});

const params = (
  overrides: Partial<Omit<ResolveModelFileParams, "session">> & Partial<HubSessionOptions> = {},
): ResolveModelFileParams => {
  const { repo = "acme/xet", revision = "v1", file = "big.gguf", sha256: pin, lock, ...session } = overrides;
  return {
    session: createHubSession({ hubUrl: hub.url, cacheDir, retry: FAST, ...session }),
    repo,
    revision,
    file,
    sha256: pin,
    lock,
  };
};
const collect = () => {
  const events: SupplyChainEvent[] = [];
  return { events, onEvent: (e: SupplyChainEvent) => events.push(e) };
};
const blobs = async (repo: string) =>
  readdir(join(cacheDir, `models--${repo.replace("/", "--")}`, "blobs")).catch(() => [] as string[]);
const gets = (origin: "cdn" | "bridge") => hub.requests.filter((r) => r.origin === origin && r.method === "GET");

describe("Xet-stored repos", () => {
  it("download from the bridge with a plain GET, verified by the sha256 paths-info still declares", async () => {
    const file = await resolveModelFile(params());
    expect(file).toMatchObject({ sha256: bigSha, size: big.length, source: "download", commit: xetCommit });
    expect(hub.requestCounts()).toEqual({ revision: 1, refs: 1, "paths-info": 1, resolve: 1, bridge: 1 });
    expect(await blobs("acme/xet")).toEqual([bigSha]);
  });

  it("never ask for the Xet file info nor a Xet token, and say who they are on every request", async () => {
    await resolveModelFile(params());
    await resolveModelFile(params({ repo: "acme/lfs", file: "config.json" }));
    expect(hub.requests.length).toBeGreaterThan(0);
    expect(hub.requests.filter((r) => (r.headers.accept ?? "").includes("xet"))).toEqual([]);
    expect(hub.requestCounts()["xet-read-token"]).toBeUndefined();
    expect(new Set(hub.requests.map((r) => r.headers["user-agent"]))).toEqual(new Set([USER_AGENT]));
    expect(USER_AGENT).toMatch(/^slm-serve\/\d+\.\d+\.\d+/);
  });

  it("ask the bridge for a range from the first byte: it refuses an unranged GET of a very large file", async () => {
    hub.settings.unrangedLimitBytes = 1 << 20;
    const file = await resolveModelFile(params());
    expect(file.sha256).toBe(bigSha);
    expect(gets("bridge").map((r) => [r.headers.range, r.status])).toEqual([["bytes=0-", 206]]);
  });

  it("name the bridge when it cannot be reached, without a path or a query", async () => {
    await hub.down("bridge");
    try {
      const error = await resolveModelFile(params({ retry: { ...FAST, retries: 0 } })).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(HubUnavailableError);
      const message = (error as Error).message;
      expect(message).toContain(`the Xet bridge 127.0.0.1:${hub.bridgePort} is unreachable (connection refused)`);
      expect(message).not.toMatch(/xet-bridge-us|Signature|\?/);
    } finally {
      await hub.up("bridge");
    }
  });
});

describe("hosts in messages", () => {
  it("names the Xet bridge cas-bridge.xethub.hf.co when a connection to it fails", async () => {
    // The fake Hub's redirect, pointed at the real bridge's name; that host refuses connections.
    const bridgeRefuses: typeof fetch = async (input, init) => {
      const url = new URL(input instanceof Request ? input.url : input);
      if (url.hostname === "cas-bridge.xethub.hf.co") {
        throw new TypeError("fetch failed", { cause: Object.assign(new Error("refused"), { code: "ECONNREFUSED" }) });
      }
      const response = await fetch(input, init);
      const location = response.headers.get("location");
      if (!location?.startsWith(hub.bridgeUrl)) return response;
      const headers = new Headers(response.headers);
      headers.set("location", location.replace(hub.bridgeUrl, "https://cas-bridge.xethub.hf.co"));
      return new Response(null, { status: response.status, headers });
    };
    const error = await resolveModelFile(params({ fetch: bridgeRefuses, retry: { ...FAST, retries: 0 } })).catch(
      (e: unknown) => e,
    );
    expect((error as Error).message).toMatch(
      /^the Xet bridge cas-bridge\.xethub\.hf\.co is unreachable \(connection refused\) and nothing is cached/,
    );
    expect((error as Error).message).not.toMatch(/xet-bridge-us|Signature|\?/);
  });

  it("names the download host of a CDN error, which carries no Hub headers (a 401 there is not 'repo not found')", async () => {
    hub.faults.set({ kind: "cdnError", status: 401, where: "cdn" });
    const error = await resolveModelFile(params({ repo: "acme/lfs" })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DownloadRefusedError);
    expect((error as Error).message).toMatch(
      new RegExp(`^the download host 127\\.0\\.0\\.1:${hub.cdnPort} refused the download \\(HTTP 401\\)`),
    );
    expect(await blobs("acme/lfs")).toEqual([]);
  });

  it("names the Hub's host when the Hub itself is down", async () => {
    await hub.down();
    try {
      const error = await resolveModelFile(params({ retry: { ...FAST, retries: 0 } })).catch((e: unknown) => e);
      expect((error as Error).message).toMatch(
        new RegExp(`^the Hub at 127\\.0\\.0\\.1:${hub.port} is unreachable \\(connection refused\\)`),
      );
    } finally {
      await hub.up();
    }
  });
});

describe("stalls", () => {
  it("resume a body that stays silent for HF_HUB_DOWNLOAD_TIMEOUT from where it stopped", async () => {
    hub.faults.set({ kind: "stallBody", where: "bridge", afterBytes: 1 << 20 });
    const { events, onEvent } = collect();
    const file = await resolveModelFile(params({ downloadTimeoutMs: 200, onEvent }));
    expect(file.sha256).toBe(bigSha);
    expect(gets("bridge").map((r) => r.headers.range)).toEqual(["bytes=0-", `bytes=${1 << 20}-`]);
    expect(events.map((e) => e.msg)).toContainEqual(
      expect.stringMatching(/no data for 0\.2 s, HF_HUB_DOWNLOAD_TIMEOUT, from the Xet bridge .*resuming from byte/),
    );
    expect(hub.bridgeBytesSent).toBe(big.length);
  });
});

describe("CDN ETag modes", () => {
  it("content: the resume carries If-Range with the ETag and continues (206)", async () => {
    hub.faults.set({ kind: "resetMidBody", where: "cdn", afterBytes: 1 << 20 });
    await resolveModelFile(params({ repo: "acme/lfs" }));
    expect(gets("cdn").map((r) => [r.headers["if-range"], r.status])).toEqual([
      [undefined, 206],
      [`"${bigSha}"`, 206],
    ]);
  });

  it("none: the resume has no validator to send, and continues (206)", async () => {
    hub.settings.cdnEtag = "none";
    hub.faults.set({ kind: "resetMidBody", where: "cdn", afterBytes: 1 << 20 });
    const file = await resolveModelFile(params({ repo: "acme/lfs" }));
    expect(file.sha256).toBe(bigSha);
    expect(gets("cdn").map((r) => [r.headers["if-range"], r.status])).toEqual([
      [undefined, 206],
      [undefined, 206],
    ]);
  });

  it("per request: the ETag moved, so the whole file comes back and the download restarts cleanly", async () => {
    hub.settings.cdnEtag = "per-request";
    hub.faults.set({ kind: "resetMidBody", where: "cdn", afterBytes: 1 << 20 });
    const { events, onEvent } = collect();
    const file = await resolveModelFile(params({ repo: "acme/lfs", onEvent }));
    expect(file).toMatchObject({ sha256: bigSha, size: big.length });
    expect(gets("cdn").map((r) => r.status)).toEqual([206, 200]);
    expect(events.map((e) => e.msg)).toContainEqual(expect.stringMatching(/downloading from the start/));
    expect(await blobs("acme/lfs")).toEqual([bigSha]);
  });

  it("a 206 under another ETag (If-Range ignored) is not spliced onto the bytes on disk: it restarts", async () => {
    hub.settings.cdnEtag = "per-request";
    hub.faults.set({ kind: "resetMidBody", where: "cdn", afterBytes: 1 << 20 });
    // A server (or a proxy) that drops If-Range: the resume is a 206 of what may be another file.
    const dropsIfRange: typeof fetch = (input, init) => {
      const headers = new Headers(init?.headers);
      headers.delete("if-range");
      return fetch(input, { ...init, headers });
    };
    const { events, onEvent } = collect();
    const file = await resolveModelFile(params({ repo: "acme/lfs", fetch: dropsIfRange, onEvent }));
    expect(file.sha256).toBe(bigSha);
    expect(gets("cdn").map((r) => [r.headers.range, r.status])).toEqual([
      ["bytes=0-", 206],
      [expect.stringMatching(/^bytes=[1-9]\d*-$/), 206],
      ["bytes=0-", 206],
    ]);
    expect(events.map((e) => e.msg)).toContainEqual(expect.stringMatching(/under another ETag.*from the start/));
  });
});

describe("gzip small files", () => {
  it("are stored as their content, verified by their git oid, and restart when a resume gets the whole body", async () => {
    hub.settings.gzipSmallFiles = true;
    const first = await resolveModelFile(params({ repo: "acme/lfs", file: "config.json" }));
    expect(first.size).toBe(Buffer.byteLength(CONFIG));
    await rm(cacheDir, { recursive: true, force: true });
    hub.resetLog();
    hub.faults.set({ kind: "truncateBody", where: "resolve", path: "config.json", sendBytes: 10 });
    const again = await resolveModelFile(params({ repo: "acme/lfs", file: "config.json" }));
    expect(again.sha256).toBe(first.sha256);
    expect(hub.requests.filter((r) => r.route === "resolve").map((r) => r.status)).toEqual([200, 200]);
  });
});

describe("rate limits", () => {
  it("waits the t of RateLimit when there is no Retry-After, then goes on", async () => {
    hub.faults.set({ kind: "rateLimit", route: "paths-info", retryAfterSeconds: 1 });
    const { events, onEvent } = collect();
    const file = await resolveModelFile(params({ onEvent }));
    expect(file.sha256).toBe(bigSha);
    expect(events.filter((e) => e.fields.code === "rate_limited").map((e) => e.fields.waitMs)).toEqual([1000]);
  });

  it("caps the total wait of a request, and says how long to wait when it gives up", async () => {
    hub.faults.set({ kind: "rateLimit", route: "revision", retryAfterSeconds: 1, times: Number.POSITIVE_INFINITY });
    const { events, onEvent } = collect();
    const error = await resolveModelFile(
      params({ retry: { retries: 10, baseDelayMs: 1, maxWaitMs: 1_500 }, onEvent }),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitedError);
    expect((error as Error).message).toMatch(
      new RegExp(`^the Hub at 127\\.0\\.0\\.1:${hub.port} is rate limiting requests; retry after 1s \\(repo acme/xet`),
    );
    expect((error as Error).message).toMatch(/without HF_TOKEN share the anonymous quota/);
    expect(events.filter((e) => e.fields.code === "rate_limited")).toHaveLength(1);
  });

  it("a cached model starts while paths-info is rate limited, verified from the cache", async () => {
    // A cache laid out by the Python client (`hf download`): nothing of ours vouches for it, so the Hub is asked.
    const dir = join(cacheDir, "models--acme--xet");
    await mkdir(join(dir, "blobs"), { recursive: true });
    await mkdir(join(dir, "snapshots", xetCommit), { recursive: true });
    await writeFile(join(dir, "blobs", bigSha), big);
    await symlink(`../../blobs/${bigSha}`, join(dir, "snapshots", xetCommit, "big.gguf"));
    hub.faults.set({ kind: "rateLimit", route: "paths-info", retryAfterSeconds: 120, times: Number.POSITIVE_INFINITY });
    const reasons: string[] = [];
    const file = await resolveModelFile(params({ onFallback: (e) => reasons.push(e.code) }));
    expect(file).toMatchObject({ commit: xetCommit, sha256: bigSha, source: "cache", revisionKind: "tag" });
    expect(reasons).toEqual(["rate_limited"]);
    expect(hub.requestCounts()).toEqual({ revision: 1, refs: 1, "paths-info": 1 });
  });

  it("paths-info rate limited with nothing cached: the error, saying how long to wait", async () => {
    hub.faults.set({ kind: "rateLimit", route: "paths-info", retryAfterSeconds: 120, times: Number.POSITIVE_INFINITY });
    const error = await resolveModelFile(params()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitedError);
    expect((error as Error).message).toMatch(/rate limiting requests; retry after 120s/);
  });

  it("a file verified online at this commit is served again without paths-info (the commit cannot change)", async () => {
    await resolveModelFile(params());
    hub.resetLog();
    hub.faults.set({ kind: "rateLimit", route: "paths-info", retryAfterSeconds: 120, times: Number.POSITIVE_INFINITY });
    const again = await resolveModelFile(params());
    expect(again).toMatchObject({ sha256: bigSha, source: "cache", revisionKind: "tag" });
    expect(hub.requestCounts()).toEqual({ revision: 1, refs: 1 });
  });
});

describe("disabled repos", () => {
  it("pass the Hub's message on", async () => {
    hub.addRepo({ id: "acme/disabled", files: { "tiny.gguf": model } });
    hub.updateRepo("acme/disabled", { disabled: true });
    const error = await resolveModelFile(params({ repo: "acme/disabled", revision: "main", file: "tiny.gguf" })).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(RepoDisabledError);
    expect((error as RepoDisabledError).code).toBe("repo_disabled");
    expect((error as Error).message).toBe(
      'the Hub refuses access to the repository: "Access to this resource is disabled." ' +
        "(repo acme/disabled, revision main, file tiny.gguf)",
    );
    expect(hub.requestCounts().revision).toBe(1);
  });
});

describe("renamed repos", () => {
  let commit: string;
  beforeAll(() => {
    commit = hub.addRepo({ id: "old-org/old-name", files: { "tiny.gguf": model } });
    hub.tag("old-org/old-name", "v1", commit);
    hub.renameRepo("old-org/old-name", "new-org/new-name");
  });
  const lock = (pinned: string): LockCheck => ({
    lockfile: "models.lock.json",
    locked: {
      role: "model",
      repo: "old-org/old-name",
      revision: "v1",
      commit: pinned,
      file: "tiny.gguf",
      size: model.length,
      sha256,
      license: null,
    },
  });
  const renamed = (overrides: Partial<ResolveModelFileParams> & Partial<HubSessionOptions> = {}) =>
    params({ repo: "old-org/old-name", file: "tiny.gguf", ...overrides });

  it("follow the relative 307 on every route, warning once with the new repo id", async () => {
    const { events, onEvent } = collect();
    const file = await resolveModelFile(renamed({ onEvent }));
    expect(file).toMatchObject({ repo: "old-org/old-name", commit, sha256 });
    expect(hub.requests.filter((r) => r.status === 307).map((r) => r.route)).toEqual([
      "revision",
      "refs",
      "paths-info",
      "resolve",
    ]);
    const warnings = events.filter((e) => e.level === "warn").map((e) => e.msg);
    expect(warnings).toEqual([expect.stringMatching(/redirects repo old-org\/old-name to new-org\/new-name/)]);
  });

  it("leave the lockfile deciding: its commit passes, another commit is refused", async () => {
    await expect(resolveModelFile(renamed({ lock: lock(commit) }))).resolves.toMatchObject({ commit, locked: true });
    const error = await resolveModelFile(renamed({ lock: lock("f".repeat(40)) })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LockedRevisionMovedError);
  });
});

describe("API requests per start", () => {
  it("one paths-info for all the files of a repo at a commit", async () => {
    const files = await resolveRepoFiles({
      session: createHubSession({ hubUrl: hub.url, cacheDir, retry: FAST }),
      repo: "acme/lfs",
      revision: "v1",
      files: [{ file: "config.json" }, { file: "tiny.gguf" }, { file: "big.gguf" }],
    });
    expect(files.map((f) => f.sha256)).toEqual([createHash("sha256").update(CONFIG).digest("hex"), sha256, bigSha]);
    expect(hub.requestCounts()).toEqual({ revision: 1, refs: 1, "paths-info": 1, resolve: 3, cdn: 2 });
  });
});
