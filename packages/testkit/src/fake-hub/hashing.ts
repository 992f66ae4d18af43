import { createHash } from "node:crypto";

/** Git blob id: sha1("blob " + length + "\0" + content). */
export function gitBlobSha1(content: Uint8Array): string {
  return createHash("sha1").update(`blob ${content.byteLength}\0`).update(content).digest("hex");
}

export function sha256Hex(content: Uint8Array): string {
  return createHash("sha256").update(content).digest("hex");
}

export function sha1Hex(...parts: Array<string | Uint8Array>): string {
  const hash = createHash("sha1");
  for (const part of parts) {
    hash.update(part);
  }
  return hash.digest("hex");
}

/** The Git LFS pointer file stored in git in place of an LFS file. */
export function lfsPointer(sha256: string, size: number): Buffer {
  return Buffer.from(`version https://git-lfs.github.com/spec/v1\noid sha256:${sha256}\nsize ${size}\n`, "utf8");
}

/** A deterministic 24-hex id (the Hub's Mongo-style `_id`). */
export function objectId(seed: string): string {
  return sha1Hex("objectid:", seed).slice(0, 24);
}

/**
 * The Xet hash the fake gives an LFS file (64 hex, derived from its sha256). The real one is a merkle hash of the
 * file's chunks; nothing but Xet clients reads it, and our client must not need it.
 */
export function xetHashOf(sha256: string): string {
  return createHash("sha256").update(`xet-merkle\0${sha256}`).digest("hex");
}
