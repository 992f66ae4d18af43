import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createHash } from "node:crypto";
import { mkdtemp, mkdir, rm, symlink, writeFile, readdir } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { verifyCachedFile } from "./verify-cached-file.ts";
import { IntegrityError } from "../errors.ts";

const ref = { repo: "acme/m", revision: "main", file: "m.gguf" };
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "verify-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function place(content: Buffer, blobName: string) {
  await mkdir(join(dir, "blobs"), { recursive: true });
  await mkdir(join(dir, "snapshots", "c"), { recursive: true });
  await writeFile(join(dir, "blobs", blobName), content);
  const snapshot = join(dir, "snapshots", "c", "m.gguf");
  await symlink(`../../blobs/${blobName}`, snapshot);
  return snapshot;
}
const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");
const gitSha1 = (b: Buffer) => createHash("sha1").update(`blob ${b.length}\0`).update(b).digest("hex");

describe("verifyCachedFile", () => {
  it("accepts an LFS blob whose name, declared oid and size match", async () => {
    const content = Buffer.from("GGUF model bytes");
    const snapshot = await place(content, sha256(content));
    const result = await verifyCachedFile(snapshot, { sha256: [sha256(content)], size: content.length }, ref);
    expect(result).toMatchObject({ size: content.length, sha256: sha256(content) });
  });

  it("checks a small file by its git blob sha1", async () => {
    const content = Buffer.from("{}");
    const snapshot = await place(content, gitSha1(content));
    await expect(verifyCachedFile(snapshot, { gitOid: gitSha1(content) }, ref)).resolves.toBeTruthy();
  });

  it("deletes blob and pointer on a flipped byte, naming repo, revision and file", async () => {
    const content = Buffer.from("GGUF model bytes");
    const corrupt = Buffer.from(content);
    corrupt[3] = corrupt[3]! ^ 0xff;
    const snapshot = await place(corrupt, sha256(content));
    const error = await verifyCachedFile(snapshot, {}, ref).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IntegrityError);
    expect((error as Error).message).toMatch(/sha256 .* expected .*repo acme\/m, revision main, file m\.gguf/);
    expect(existsSync(snapshot)).toBe(false);
    expect(await readdir(join(dir, "blobs"))).toEqual([]);
  });

  it("refuses a truncated file by size before hashing", async () => {
    const content = Buffer.from("GGUF model bytes");
    const snapshot = await place(content.subarray(0, 4), sha256(content));
    await expect(verifyCachedFile(snapshot, { size: content.length }, ref)).rejects.toThrow(
      /size is 4 bytes, expected 16/,
    );
    expect(await readdir(join(dir, "blobs"))).toEqual([]);
  });

  it("enforces a pinned MODEL_SHA256", async () => {
    const content = Buffer.from("GGUF model bytes");
    const snapshot = await place(content, sha256(content));
    await expect(verifyCachedFile(snapshot, { sha256: ["0".repeat(64)] }, ref)).rejects.toBeInstanceOf(IntegrityError);
  });
});
