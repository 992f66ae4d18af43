import { describe, expect, it } from "vitest";
import { mkdtemp, readdir, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CachePathError } from "../errors.ts";
import { cacheLayout, readRef, writeRef } from "./layout.ts";

describe("cache layout", () => {
  it("uses the Python client's folder names", () => {
    const layout = cacheLayout("/c", "acme/tiny-model");
    const commit = "c".repeat(40);
    const blob = "e".repeat(64);
    expect(layout.repoDir).toBe("/c/models--acme--tiny-model");
    expect(layout.refPath("v1")).toBe("/c/models--acme--tiny-model/refs/v1");
    expect(layout.snapshotPath(commit, "sub/m.gguf")).toBe(
      `/c/models--acme--tiny-model/snapshots/${commit}/sub/m.gguf`,
    );
    expect(layout.blobPath(blob)).toBe(`/c/models--acme--tiny-model/blobs/${blob}`);
    expect(layout.lockPath(blob)).toBe(`/c/.locks/models--acme--tiny-model/${blob}.slm-download.lock`);
    expect(layout.markerPath(blob)).toBe(`/c/.locks/models--acme--tiny-model/${blob}.slm-verified.json`);
    expect(layout.commitInfoPath(commit)).toBe(`/c/.locks/models--acme--tiny-model/${commit}.slm-commit.json`);
  });

  it("builds no path outside the cache, whatever the Hub or the environment names", () => {
    const layout = cacheLayout("/c", "acme/m");
    const commit = "c".repeat(40);
    for (const name of ["../../../../etc/x", "e", `${"e".repeat(63)}/`, "E".repeat(64)]) {
      expect(() => layout.blobPath(name), name).toThrow(CachePathError);
      expect(() => layout.markerPath(name), name).toThrow(CachePathError);
    }
    expect(() => layout.snapshotPath(commit, "../../../x")).toThrow(CachePathError);
    expect(() => layout.snapshotPath("../x", "m.gguf")).toThrow(CachePathError);
    expect(() => layout.refPath("../../../x")).toThrow(CachePathError);
    expect(() => layout.commitInfoPath("x/../../y")).toThrow(CachePathError);
  });

  it("writes refs atomically as the bare commit and reads them back", async () => {
    const dir = await mkdtemp(join(tmpdir(), "refs-"));
    const layout = cacheLayout(dir, "acme/m");
    const commit = "a".repeat(40);
    await writeRef(layout, "refs/pr/1", commit);
    expect(await readFile(layout.refPath("refs/pr/1"), "utf8")).toBe(commit);
    expect(await readdir(join(layout.repoDir, "refs", "refs", "pr"))).toEqual(["1"]);
    expect(await readRef(layout, "refs/pr/1")).toBe(commit);
    expect(await readRef(layout, "missing")).toBeUndefined();
    expect(await readRef(layout, "b".repeat(40))).toBe("b".repeat(40));
  });
});
