/**
 * The wire protocol of docs/hub-protocol.md, checked with raw fetch.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { gitBlobSha1, sha256Hex } from "./hashing.ts";
import { startFakeHub } from "./start-fake-hub.ts";
import type { FakeHub } from "./types.ts";

const TOKEN = "hf_protocol";
const SMALL = "0123456789abcdefghij";
const BIG = Buffer.alloc(200_000, 0x61);
BIG[123_456] = 0x62;

let hub: FakeHub;
let sha: string;

function auth(token = TOKEN): Record<string, string> {
  return { Authorization: `Bearer ${token}` };
}

async function errorOf(
  res: Response,
): Promise<{ status: number; code: string | null; message: string | null; body: unknown }> {
  return {
    status: res.status,
    code: res.headers.get("x-error-code"),
    message: res.headers.get("x-error-message"),
    body: await res.json(),
  };
}

beforeAll(async () => {
  hub = await startFakeHub();
  sha = hub.addRepo({
    id: "org/model",
    files: { "small.txt": SMALL, "weights.bin": BIG, "nested/dir/file.json": "{}" },
  });
  hub.addRepo({ id: "org/private", private: true, files: { "a.txt": "a" } });
  hub.addRepo({ id: "org/gated", gated: "auto", files: { "a.txt": "a" } });
  hub.addToken(TOKEN, { canRead: ["org/private"] });
  hub.addToken("hf_noaccess");
});

afterAll(async () => {
  await hub.close();
});

beforeEach(() => {
  hub.resetLog();
});

describe("model info routes", () => {
  it("serves /api/models/{repo} (main) and /revision/{rev} with the spec's fields", async () => {
    const res = await fetch(`${hub.url}/api/models/org/model?expand[]=sha&expand[]=siblings`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      _id: expect.stringMatching(/^[0-9a-f]{24}$/),
      id: "org/model",
      modelId: "org/model",
      sha,
      private: false,
      gated: false,
      disabled: false,
      siblings: [{ rfilename: "nested/dir/file.json" }, { rfilename: "small.txt" }, { rfilename: "weights.bin" }],
      lastModified: expect.any(String),
      tags: [],
    });
    expect(body).not.toHaveProperty("cardData");
    const rev = await fetch(`${hub.url}/api/models/org/model/revision/${sha.slice(0, 10)}`);
    expect(((await rev.json()) as { sha: string }).sha).toBe(sha);
  });

  it("honours expand when asked to", async () => {
    const strict = await startFakeHub({ honourExpand: true });
    try {
      strict.addRepo({ id: "org/model", files: { "a.txt": "a" } });
      const res = await fetch(`${strict.url}/api/models/org/model/revision/main?expand=sha&expand=private`);
      expect(Object.keys((await res.json()) as object).sort()).toEqual(["_id", "id", "private", "sha"]);
    } finally {
      await strict.close();
    }
  });

  it("lists refs", async () => {
    hub.tag("org/model", "v1.0", sha);
    const res = await fetch(`${hub.url}/api/models/org/model/refs`);
    expect(await res.json()).toEqual({
      branches: [{ name: "main", ref: "refs/heads/main", targetCommit: sha }],
      tags: [{ name: "v1.0", ref: "refs/tags/v1.0", targetCommit: sha }],
      converts: [],
    });
  });
});

describe("errors", () => {
  it.each([
    ["missing repo, no token", "/api/models/org/none", {}, 401, "RepoNotFound"],
    ["missing repo, valid token", "/api/models/org/none", auth(), 404, "RepoNotFound"],
    ["private, no token", "/api/models/org/private", {}, 401, "RepoNotFound"],
    ["private, token without access", "/api/models/org/private", auth("hf_noaccess"), 404, "RepoNotFound"],
    ["unknown token", "/api/models/org/model", auth("hf_unknown"), 401, null],
    ["unknown revision", "/api/models/org/model/revision/v9", {}, 404, "RevisionNotFound"],
    ["unknown file", `/org/model/resolve/main/nope.txt`, {}, 404, "EntryNotFound"],
    ["gated, no token", "/org/gated/resolve/main/a.txt", {}, 401, "GatedRepo"],
    ["gated, token not approved", "/org/gated/resolve/main/a.txt", auth(), 403, "GatedRepo"],
    ["private file, token without access", "/org/private/resolve/main/a.txt", auth("hf_noaccess"), 404, "RepoNotFound"],
  ])("%s", async (_name, path, headers, status, code) => {
    const res = await fetch(`${hub.url}${path}`, { headers });
    const err = await errorOf(res);
    expect(err.status).toBe(status);
    expect(err.code).toBe(code);
    expect(err.body).toEqual({ error: err.message });
    if (code === "EntryNotFound") expect(res.headers.get("x-repo-commit")).toBe(sha);
    if (code === null) expect(err.message).toBe("Invalid credentials in Authorization header");
  });

  it("answers 404 to unknown routes and 401 to whoami without a token", async () => {
    expect((await fetch(`${hub.url}/api/nothing`)).status).toBe(404);
    expect((await fetch(`${hub.url}/org/model/blob/main/small.txt`)).status).toBe(404);
    const whoami = await fetch(`${hub.url}/api/whoami-v2`);
    expect(whoami.status).toBe(401);
    expect(((await whoami.json()) as { error: string }).error).toBe("Invalid credentials in Authorization header");
  });
});

describe("resolve", () => {
  it("serves small files with ETag, X-Repo-Commit, Content-Length and ranges", async () => {
    const full = await fetch(`${hub.url}/org/model/resolve/main/small.txt`);
    expect(full.status).toBe(200);
    expect(full.headers.get("etag")).toBe(`"${gitBlobSha1(Buffer.from(SMALL))}"`);
    expect(full.headers.get("x-repo-commit")).toBe(sha);
    expect(full.headers.get("content-length")).toBe(String(SMALL.length));
    expect(full.headers.get("accept-ranges")).toBe("bytes");
    expect(await full.text()).toBe(SMALL);

    const part = await fetch(`${hub.url}/org/model/resolve/main/small.txt`, { headers: { Range: "bytes=2-5" } });
    expect(part.status).toBe(206);
    expect(part.headers.get("content-range")).toBe(`bytes 2-5/${SMALL.length}`);
    expect(await part.text()).toBe("2345");

    const open = await fetch(`${hub.url}/org/model/resolve/main/small.txt`, { headers: { Range: "bytes=15-" } });
    expect(open.headers.get("content-range")).toBe(`bytes 15-19/${SMALL.length}`);
    expect(await open.text()).toBe("fghij");

    const bad = await fetch(`${hub.url}/org/model/resolve/main/small.txt`, { headers: { Range: "bytes=99-" } });
    expect(bad.status).toBe(416);
    expect(bad.headers.get("content-range")).toBe(`bytes */${SMALL.length}`);

    const head = await fetch(`${hub.url}/org/model/resolve/main/small.txt`, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.headers.get("content-length")).toBe(String(SMALL.length));
  });

  it("honours If-Range: the range with the current strong ETag, the whole body otherwise", async () => {
    const first = await fetch(`${hub.url}/org/model/resolve/main/weights.bin`, { headers: { Range: "bytes=0-0" } });
    const etag = first.headers.get("etag") ?? "";
    await first.arrayBuffer();
    const matching = await fetch(first.url, { headers: { Range: "bytes=10-", "If-Range": etag } });
    expect(matching.status).toBe(206);
    expect((await matching.arrayBuffer()).byteLength).toBe(BIG.length - 10);
    for (const validator of [`"${"0".repeat(64)}"`, `W/${etag}`, new Date().toUTCString()]) {
      const other = await fetch(first.url, { headers: { Range: "bytes=10-", "If-Range": validator } });
      expect(other.status).toBe(200);
      expect((await other.arrayBuffer()).byteLength).toBe(BIG.length);
    }
  });

  it("redirects LFS files to the CDN origin with linked headers", async () => {
    const res = await fetch(`${hub.url}/org/model/resolve/${sha}/weights.bin`, { redirect: "manual", headers: auth() });
    expect(res.status).toBe(302);
    const location = new URL(res.headers.get("location") ?? "");
    expect(location.origin).toBe(hub.cdnUrl);
    expect(location.origin).not.toBe(hub.url);
    expect(location.searchParams.get("Signature")).toBeTruthy();
    expect(res.headers.get("x-repo-commit")).toBe(sha);
    expect(res.headers.get("x-linked-etag")).toBe(`"${sha256Hex(BIG)}"`);
    expect(res.headers.get("x-linked-size")).toBe(String(BIG.length));
    expect(res.headers.get("etag")).toBeTruthy();

    const cdn = await fetch(location, { headers: { Range: "bytes=123456-123457" } });
    expect(cdn.status).toBe(206);
    expect(cdn.headers.get("content-range")).toBe(`bytes 123456-123457/${BIG.length}`);
    expect(cdn.headers.get("content-length")).toBe("2");
    expect(cdn.headers.get("etag")).toBe(`"${sha256Hex(BIG)}"`);
    expect(cdn.headers.get("accept-ranges")).toBe("bytes");
    expect(await cdn.text()).toBe("ba");

    const tampered = new URL(location);
    tampered.searchParams.set("Signature", "forged");
    expect((await fetch(tampered)).status).toBe(403);
  });

  it("drops Authorization on the cross-origin redirect", async () => {
    const res = await fetch(`${hub.url}/org/model/resolve/main/weights.bin`, { headers: auth() });
    expect(Buffer.from(await res.arrayBuffer()).equals(BIG)).toBe(true);
    const [resolve, cdn] = hub.requests;
    expect(resolve?.headers["authorization"]).toBe(`Bearer ${TOKEN}`);
    expect(cdn?.origin).toBe("cdn");
    expect(cdn?.headers).not.toHaveProperty("authorization");
    expect(hub.cdnBytesSent).toBe(BIG.length);
  });

  it("accepts percent-encoded and unencoded PR refs, and /raw serves LFS pointers", async () => {
    hub.branch("org/model", "refs/pr/1", sha);
    const encoded = await fetch(`${hub.url}/org/model/resolve/refs%2Fpr%2F1/small.txt`);
    expect(await encoded.text()).toBe(SMALL);
    const tree = await fetch(`${hub.url}/api/models/org/model/tree/refs/pr/1/nested?recursive=true`);
    expect(((await tree.json()) as Array<{ path: string }>).map((e) => e.path)).toEqual([
      "nested/dir",
      "nested/dir/file.json",
    ]);
    const raw = await fetch(`${hub.url}/org/model/raw/main/weights.bin`);
    expect(await raw.text()).toContain(`oid sha256:${sha256Hex(BIG)}`);
  });
});

describe("tree and paths-info", () => {
  it("lists direct children, with lastCommit when expanded", async () => {
    const res = await fetch(`${hub.url}/api/models/org/model/tree/main?recursive=false&expand=true`);
    const entries = (await res.json()) as Array<Record<string, unknown>>;
    expect(entries.map((e) => [e["type"], e["path"]])).toEqual([
      ["directory", "nested"],
      ["file", "small.txt"],
      ["file", "weights.bin"],
    ]);
    expect(entries[2]).toMatchObject({
      size: BIG.length,
      lfs: { oid: sha256Hex(BIG), size: BIG.length },
      lastCommit: { id: sha, title: "initial commit" },
    });
    expect((await fetch(`${hub.url}/api/models/org/model/tree/main/nope`)).status).toBe(404);
  });

  it("accepts form bodies", async () => {
    const res = await fetch(`${hub.url}/api/models/org/model/paths-info/main`, {
      method: "POST",
      body: new URLSearchParams([
        ["paths", "small.txt"],
        ["paths", "ghost"],
        ["expand", "true"],
      ]),
    });
    const entries = (await res.json()) as Array<Record<string, unknown>>;
    expect(entries).toEqual([
      {
        type: "file",
        path: "small.txt",
        oid: gitBlobSha1(Buffer.from(SMALL)),
        size: SMALL.length,
        lastCommit: { id: sha, title: "initial commit", date: expect.any(String) },
        securityFileStatus: { status: "safe" },
      },
    ]);
  });
});

describe("commits", () => {
  it("keeps old commits readable after main moves", async () => {
    const repo = "org/history";
    const first = hub.addRepo({ id: repo, files: { "a.txt": "one" } });
    const second = hub.commit(repo, { "a.txt": "two" }, { message: "second" });
    expect(second).toMatch(/^[0-9a-f]{40}$/);
    expect(second).not.toBe(first);
    expect(hub.repo(repo).mainSha).toBe(second);
    expect(await (await fetch(`${hub.url}/${repo}/resolve/${first}/a.txt`)).text()).toBe("one");
    expect(await (await fetch(`${hub.url}/${repo}/resolve/main/a.txt`)).text()).toBe("two");
    const third = hub.commit(repo, {}, { deletions: ["a.txt"] });
    expect((await fetch(`${hub.url}/${repo}/resolve/${third}/a.txt`)).headers.get("x-error-code")).toBe(
      "EntryNotFound",
    );
    expect(() => hub.addRepo({ id: repo, files: {} })).toThrow(/already exists/);
    expect(() => hub.addToken("not-a-token")).toThrow(/hf_/);
  });
});
