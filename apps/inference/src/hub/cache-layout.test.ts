import { describe, expect, it } from "vitest";
import { mkdtemp, readdir, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cacheLayout, readRef, writeRef } from "./cache-layout.ts";

describe("cache layout", () => {
  it("uses the Python client's folder names", () => {
    const layout = cacheLayout("/c", "acme/tiny-model");
    expect(layout.repoDir).toBe("/c/models--acme--tiny-model");
    expect(layout.refPath("v1")).toBe("/c/models--acme--tiny-model/refs/v1");
    expect(layout.snapshotPath("abc", "sub/m.gguf")).toBe("/c/models--acme--tiny-model/snapshots/abc/sub/m.gguf");
    expect(layout.blobPath("e")).toBe("/c/models--acme--tiny-model/blobs/e");
    expect(layout.lockPath("e")).toBe("/c/.locks/models--acme--tiny-model/e.slm-download.lock");
    expect(layout.markerPath("e")).toBe("/c/.locks/models--acme--tiny-model/e.slm-verified.json");
    expect(layout.commitInfoPath("abc")).toBe("/c/.locks/models--acme--tiny-model/abc.slm-commit.json");
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
