/**
 * The fake Hub driven by the real client, @huggingface/hub 2.17.5.
 */
import { createHash } from "node:crypto";
import { mkdtemp, readFile, readlink, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  downloadFileToCacheDir,
  HubApiError,
  listFiles,
  modelInfo,
  pathsInfo,
  whoAmI,
  type ListFileEntry,
} from "@huggingface/hub";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { gitBlobSha1, sha256Hex } from "./hashing.ts";
import { startFakeHub } from "./start-fake-hub.ts";
import type { FakeHub } from "./types.ts";

const TOKEN = "hf_test_reader";
const WEIGHTS = Buffer.alloc(3 * 1024 * 1024 + 17, 0);
for (let i = 0; i < WEIGHTS.length; i += 4099) WEIGHTS[i] = i % 251;
const CONFIG = '{"model_type":"llama"}';

/** `downloadFileToCacheDir`'s published type lacks `xet`, but it forwards it to `downloadFile`. */
interface DownloadParams {
  repo: string;
  path: string;
  revision?: string;
  hubUrl: string;
  cacheDir: string;
  accessToken?: string;
  xet?: boolean;
}
function download(params: DownloadParams): Promise<string> {
  return downloadFileToCacheDir(params);
}

let hub: FakeHub;
let firstCommit: string;
let cacheDir: string;

beforeAll(async () => {
  hub = await startFakeHub();
  firstCommit = hub.addRepo({
    id: "acme/tiny",
    license: "apache-2.0",
    tags: ["gguf", "text-generation"],
    files: { "config.json": CONFIG, "model.gguf": WEIGHTS, "docs/README.md": "# tiny\n" },
  });
  hub.addRepo({ id: "acme/secret", private: true, files: { "config.json": "{}" } });
  hub.addRepo({ id: "acme/gated", gated: "manual", files: { "config.json": "{}" } });
  hub.addToken(TOKEN, { user: "reader", canRead: ["acme/secret"], gatedApproved: ["acme/gated"] });
  hub.addToken("hf_unapproved", { user: "other" });
});

afterAll(async () => {
  await hub.close();
});

beforeEach(async () => {
  cacheDir = await mkdtemp(join(tmpdir(), "fake-hub-cache-"));
  hub.resetLog();
  vi.spyOn(console, "debug").mockImplementation(() => {});
});

afterEach(async () => {
  vi.restoreAllMocks();
  await rm(cacheDir, { recursive: true, force: true });
});

describe("modelInfo", () => {
  it("resolves HEAD with expand query params and returns the commit sha", async () => {
    const info = await modelInfo({ name: "acme/tiny", hubUrl: hub.url, additionalFields: ["sha", "cardData", "tags"] });
    expect(info.name).toBe("acme/tiny");
    expect(info.sha).toBe(firstCommit);
    expect(info.private).toBe(false);
    expect(info.gated).toBe(false);
    expect(info.cardData).toEqual({ license: "apache-2.0" });
    expect(info.tags).toEqual(["gguf", "text-generation", "license:apache-2.0"]);
    const [request] = hub.requests;
    expect(request?.path).toBe("/api/models/acme/tiny/revision/HEAD");
    expect(request?.query).toContain("expand=sha");
    expect(request?.query).toContain("expand=pipeline_tag");
    expect(request?.headers["authorization"]).toBeUndefined();
  });

  it("resolves branches, tags, commits and percent-encoded PR refs", async () => {
    const second = hub.commit("acme/tiny", { "notes.txt": "v2" }, { message: "add notes" });
    hub.tag("acme/tiny", "v1", firstCommit);
    hub.branch("acme/tiny", "refs/pr/1", second);
    const sha = async (revision: string): Promise<string> =>
      (await modelInfo({ name: "acme/tiny", hubUrl: hub.url, revision, additionalFields: ["sha"] })).sha;
    expect(await sha("main")).toBe(second);
    expect(await sha("v1")).toBe(firstCommit);
    expect(await sha(firstCommit)).toBe(firstCommit);
    expect(await sha("refs/pr/1")).toBe(second);
    expect(hub.requests.map((r) => r.path)).toContain("/api/models/acme/tiny/revision/refs%2Fpr%2F1");

    // A tag moved after a client locked it.
    hub.tag("acme/tiny", "v1", second);
    expect(await sha("v1")).toBe(second);

    const err = await modelInfo({ name: "acme/tiny", hubUrl: hub.url, revision: "nope" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HubApiError);
    expect((err as HubApiError).statusCode).toBe(404);
    expect((err as HubApiError).message).toContain("Invalid rev id: nope");
  });

  it("hides private repos without an authorised token", async () => {
    const anonymous = await modelInfo({ name: "acme/secret", hubUrl: hub.url }).catch((e: unknown) => e);
    expect((anonymous as HubApiError).statusCode).toBe(401);
    const other = await modelInfo({ name: "acme/secret", hubUrl: hub.url, accessToken: "hf_unapproved" }).catch(
      (e: unknown) => e,
    );
    expect((other as HubApiError).statusCode).toBe(404);
    const ok = await modelInfo({ name: "acme/secret", hubUrl: hub.url, accessToken: TOKEN });
    expect(ok.private).toBe(true);
    expect(hub.requests.at(-1)?.headers["authorization"]).toBe(`Bearer ${TOKEN}`);
  });

  it("shows gated repos' metadata to anyone", async () => {
    const info = await modelInfo({ name: "acme/gated", hubUrl: hub.url });
    expect(info.gated).toBe("manual");
  });
});

describe("pathsInfo and listFiles", () => {
  it("returns only existing paths, with lfs and lastCommit when expanded", async () => {
    const infos = await pathsInfo({
      repo: "acme/tiny",
      paths: ["model.gguf", "config.json", "missing.bin", "docs"],
      revision: firstCommit,
      hubUrl: hub.url,
      expand: true,
    });
    expect(infos.map((i) => i.path)).toEqual(["model.gguf", "config.json", "docs"]);
    const [gguf, config, docs] = infos;
    expect(gguf?.lfs).toEqual({ oid: sha256Hex(WEIGHTS), size: WEIGHTS.length, pointerSize: expect.any(Number) });
    expect(gguf?.size).toBe(WEIGHTS.length);
    expect(gguf?.lastCommit?.id).toBe(firstCommit);
    expect(config?.lfs).toBeUndefined();
    expect(config?.oid).toBe(gitBlobSha1(Buffer.from(CONFIG)));
    expect(docs?.type).toBe("directory");
    const request = hub.requests.at(-1);
    expect(request?.method).toBe("POST");
    expect(request?.path).toBe(`/api/models/acme/tiny/paths-info/${firstCommit}`);
    expect(request?.headers["content-type"]).toBe("application/json");
  });

  it("lists the tree recursively", async () => {
    const entries: ListFileEntry[] = [];
    for await (const entry of listFiles({
      repo: "acme/tiny",
      revision: firstCommit,
      recursive: true,
      hubUrl: hub.url,
    })) {
      entries.push(entry);
    }
    expect(entries.map((e) => `${e.type}:${e.path}`)).toEqual([
      "directory:docs",
      "file:config.json",
      "file:docs/README.md",
      "file:model.gguf",
    ]);
  });
});

describe("downloadFileToCacheDir", () => {
  it("downloads an LFS file through the CDN into a Python-compatible cache layout", async () => {
    const pointer = await download({
      repo: "acme/tiny",
      path: "model.gguf",
      revision: firstCommit,
      hubUrl: hub.url,
      cacheDir,
      accessToken: TOKEN,
      xet: false,
    });
    const sha256 = sha256Hex(WEIGHTS);
    expect(pointer).toBe(join(cacheDir, "models--acme--tiny", "snapshots", firstCommit, "model.gguf"));
    expect(await readlink(pointer)).toBe(`../../blobs/${sha256}`);
    expect(
      createHash("sha256")
        .update(await readFile(pointer))
        .digest("hex"),
    ).toBe(sha256);

    const calls = hub.requests.map((r) => `${r.origin} ${r.method} ${r.path} ${r.headers["range"] ?? "-"} ${r.status}`);
    const resolve = `/acme/tiny/resolve/${firstCommit}/model.gguf`;
    expect(calls[0]).toBe(`hub POST /api/models/acme/tiny/paths-info/${firstCommit} - 200`);
    expect(calls[1]).toBe(`hub GET ${resolve} bytes=0-0 302`);
    expect(calls[2]).toMatch(/^cdn GET \/repos\/.+ bytes=0-0 206$/);
    // The CDN sends `X-Cache: ... cloudfront`, so the client downloads straight from the CDN URL.
    expect(calls[3]).toMatch(/^cdn GET \/repos\/.+ - 200$/);
    expect(calls).toHaveLength(4);

    // Node's fetch dropped the token on the cross-origin redirect...
    expect(hub.requests[1]?.headers["authorization"]).toBe(`Bearer ${TOKEN}`);
    expect(hub.requests[2]?.headers["authorization"]).toBeUndefined();
    // ...but the client then sends it itself on its direct request to the CDN URL.
    expect(hub.requests[3]?.headers["authorization"]).toBe(`Bearer ${TOKEN}`);
    expect(hub.cdnBytesSent).toBe(WEIGHTS.length + 1);
  });

  it("never sends the token to the CDN when the client has to follow the redirect", async () => {
    const plain = await startFakeHub({ cdnCacheHeader: false });
    try {
      const sha = plain.addRepo({ id: "acme/tiny", private: true, files: { "model.gguf": WEIGHTS } });
      plain.addToken(TOKEN, { canRead: "all" });
      const pointer = await download({
        repo: "acme/tiny",
        path: "model.gguf",
        revision: sha,
        hubUrl: plain.url,
        cacheDir,
        accessToken: TOKEN,
        xet: false,
      });
      expect((await readFile(pointer)).equals(WEIGHTS)).toBe(true);
      const cdn = plain.requests.filter((r) => r.origin === "cdn");
      const resolves = plain.requests.filter((r) => r.origin === "hub" && r.path.includes("/resolve/"));
      expect(cdn).toHaveLength(2);
      expect(resolves).toHaveLength(2);
      expect(resolves.every((r) => r.headers["authorization"] === `Bearer ${TOKEN}`)).toBe(true);
      expect(cdn.every((r) => !("authorization" in r.headers))).toBe(true);
    } finally {
      await plain.close();
    }
  });

  it("serves small files from the Hub origin (probe 206, then 200) and reuses the cache", async () => {
    const options: DownloadParams = {
      repo: "acme/tiny",
      path: "config.json",
      revision: firstCommit,
      hubUrl: hub.url,
      cacheDir,
      xet: false,
    };
    const pointer = await download(options);
    expect(await readFile(pointer, "utf8")).toBe(CONFIG);
    expect(await readlink(pointer)).toBe(`../../blobs/${gitBlobSha1(Buffer.from(CONFIG))}`);
    expect(hub.requests.map((r) => `${r.origin} ${r.method} ${r.headers["range"] ?? "-"} ${r.status}`)).toEqual([
      "hub POST - 200",
      "hub GET bytes=0-0 206",
      "hub GET - 200",
    ]);
    // With a commit revision, a cached file is returned without any request.
    hub.resetLog();
    expect(await download(options)).toBe(pointer);
    expect(hub.requests).toHaveLength(0);
  });

  it("names the snapshot after the file's last commit when given a branch (a client quirk)", async () => {
    const repo = "acme/quirk";
    const first = hub.addRepo({ id: repo, files: { "config.json": CONFIG } });
    const head = hub.commit(repo, { "other.txt": "unrelated change" });
    const pointer = await download({
      repo,
      path: "config.json",
      revision: "main",
      hubUrl: hub.url,
      cacheDir,
      xet: false,
    });
    expect(pointer).toBe(join(cacheDir, "models--acme--quirk", "snapshots", first, "config.json"));
    expect(pointer).not.toContain(head);
    // and no refs/ folder is written
    expect(await readdir(join(cacheDir, "models--acme--quirk"))).toEqual(expect.not.arrayContaining(["refs"]));
  });

  it("gets GatedRepo errors for gated files until approved", async () => {
    const base: DownloadParams = { repo: "acme/gated", path: "config.json", hubUrl: hub.url, cacheDir, xet: false };
    const anonymous = await download(base).catch((e: unknown) => e);
    expect((anonymous as HubApiError).statusCode).toBe(401);
    const unapproved = await download({ ...base, accessToken: "hf_unapproved" }).catch((e: unknown) => e);
    expect((unapproved as HubApiError).statusCode).toBe(403);
    expect((unapproved as HubApiError).message).toContain("not in the authorized list");
    expect(await readFile(await download({ ...base, accessToken: TOKEN }), "utf8")).toBe("{}");
  });

  it("rejects an unknown token before touching the cache", async () => {
    const err = await download({
      repo: "acme/tiny",
      path: "config.json",
      hubUrl: hub.url,
      cacheDir,
      accessToken: "hf_unknown",
    }).catch((e: unknown) => e);
    expect((err as HubApiError).statusCode).toBe(401);
    expect((err as HubApiError).message).toContain("Invalid credentials in Authorization header");
  });
});

describe("whoAmI", () => {
  it("describes the token's user", async () => {
    const me = await whoAmI({ hubUrl: hub.url, accessToken: TOKEN });
    expect(me.name).toBe("reader");
    expect(me.auth.type).toBe("access_token");
    expect(me.auth.accessToken?.role).toBe("fineGrained");
    const err = await whoAmI({ hubUrl: hub.url, accessToken: "hf_nope" }).catch((e: unknown) => e);
    expect((err as HubApiError).statusCode).toBe(401);
  });
});
