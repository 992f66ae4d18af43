import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createHash } from "node:crypto";
import { existsSync, readlinkSync } from "node:fs";
import { mkdtemp, mkdir, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateTinyLlama, startFakeHub, type FakeHub } from "@slm/testkit";
import { resolveModelFile, type ResolveModelFileParams } from "./resolve-model-file.ts";
import {
  EntryNotFoundError,
  GatedRepoError,
  HubUnavailableError,
  DownloadInterruptedError,
  IntegrityError,
  InvalidTokenError,
  NotCachedError,
  RepoNotFoundError,
  RevisionNotFoundError,
} from "./errors.ts";

const TOKEN = "hf_testreader0000000000";
const model = Buffer.from(generateTinyLlama({ seed: 7 }));
const sha256 = createHash("sha256").update(model).digest("hex");

let hub: FakeHub;
let commit: string;
let cacheDir: string;

beforeAll(async () => {
  hub = await startFakeHub();
  commit = hub.addRepo({ id: "acme/tiny", license: "apache-2.0", files: { "tiny.gguf": model, "README.md": "# tiny" } });
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

const params = (overrides: Partial<ResolveModelFileParams> = {}): ResolveModelFileParams => ({
  repo: "acme/tiny",
  revision: "v1",
  file: "tiny.gguf",
  hubUrl: hub.url,
  cacheDir,
  offline: false,
  ...overrides,
});
const repoDir = (repo = "acme/tiny") => join(cacheDir, `models--${repo.replace("/", "--")}`);
/** Files under blobs/: a test that fails must leave none, and never a partial one. */
const blobs = async (repo?: string) => readdir(join(repoDir(repo), "blobs")).catch(() => [] as string[]);

describe("resolveModelFile", () => {
  it("resolves a tag to its commit, downloads into the Python layout and verifies sha256", async () => {
    const progress: number[] = [];
    const file = await resolveModelFile(params({ onProgress: (p) => progress.push(p.downloadedBytes) }));
    expect(file).toMatchObject({ commit, sha256, size: model.length, license: "apache-2.0", source: "download" });
    expect(file.path).toBe(join(repoDir(), "snapshots", commit, "tiny.gguf"));
    expect(readlinkSync(file.path)).toBe(`../../blobs/${sha256}`);
    expect(await readFile(join(repoDir(), "refs", "v1"), "utf8")).toBe(commit);
    expect(await blobs()).toEqual([sha256]);
    expect(progress.at(-1)).toBe(model.length);
  });

  it("serves a second start from the cache after re-verifying it", async () => {
    await resolveModelFile(params());
    hub.resetLog();
    const again = await resolveModelFile(params());
    expect(again.source).toBe("cache");
    expect(hub.requests.filter((r) => r.origin === "cdn")).toEqual([]);
  });

  it("sends the token to the Hub origin and never to the CDN", async () => {
    const file = await resolveModelFile(params({ repo: "acme/private", revision: "main", accessToken: TOKEN }));
    expect(file.sha256).toBe(sha256);
    const hubSaw = hub.requests.filter((r) => r.origin === "hub").map((r) => r.headers.authorization);
    const cdn = hub.requests.filter((r) => r.origin === "cdn");
    expect(hubSaw.every((h) => h === `Bearer ${TOKEN}`)).toBe(true);
    expect(cdn.length).toBeGreaterThan(0);
    expect(cdn.map((r) => r.headers.authorization)).toEqual(cdn.map(() => undefined));
  });

  it.each([
    ["a missing file", { file: "nope.gguf" }, EntryNotFoundError, /file not found.*tiny\.gguf.*repo acme\/tiny, revision v1, file nope\.gguf/],
    ["an unknown revision", { revision: "v9" }, RevisionNotFoundError, /revision not found.*revision v9/],
    ["a private repo without token", { repo: "acme/private" }, RepoNotFoundError, /private and no HF_TOKEN.*repo acme\/private/],
    ["a refused token", { accessToken: "hf_not_a_known_token" }, InvalidTokenError, /refused the token/],
    ["a gated repo without token", { repo: "acme/gated", revision: "main" }, GatedRepoError, /gated repository/],
    ["a gated repo, token not approved", { repo: "acme/gated", revision: "main", accessToken: TOKEN }, GatedRepoError, /not been granted/],
  ])("fails clearly on %s and caches nothing", async (_name, overrides, type, message) => {
    const error = await resolveModelFile(params(overrides)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(type);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toContain(hub.url);
    expect(await blobs((overrides as { repo?: string }).repo)).toEqual([]);
  });

  it("deletes a corrupted download and names the mismatch", async () => {
    hub.faults.set({ kind: "corruptBody", where: "cdn" });
    const error = await resolveModelFile(params()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IntegrityError);
    expect((error as Error).message).toMatch(/sha256 .* expected .*repo acme\/tiny, revision v1, file tiny\.gguf/);
    expect(await blobs()).toEqual([]);
    expect(existsSync(join(repoDir(), "snapshots", commit, "tiny.gguf"))).toBe(false);
  });

  it("leaves no partial file after a truncated body", async () => {
    hub.faults.set({ kind: "truncateBody", where: "cdn", sendBytes: 1000 });
    const error = await resolveModelFile(params()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DownloadInterruptedError);
    expect((error as Error).message).toMatch(
      /download stopped before the end of the file.*repo acme\/tiny, revision v1, file tiny\.gguf/,
    );
    expect(await blobs()).toEqual([]);
  });

  it("refuses content that differs from a pinned MODEL_SHA256 before downloading", async () => {
    await expect(resolveModelFile(params({ sha256: "0".repeat(64) }))).rejects.toThrow(/MODEL_SHA256 pins/);
    expect(hub.requests.filter((r) => r.origin === "cdn")).toEqual([]);
  });

  it("falls back to the cached commit when the Hub is down, and says why when nothing is cached", async () => {
    await hub.down();
    try {
      await expect(resolveModelFile(params())).rejects.toBeInstanceOf(HubUnavailableError);
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
  });
});
