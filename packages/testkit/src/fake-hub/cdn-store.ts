import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { sha1Hex, xetHashOf } from "./hashing.ts";
import type { StoredFile } from "./repo-store.ts";

export interface CdnObject {
  key: string;
  repoId: string;
  path: string;
  sha256: string;
  content: Buffer;
}

/** The CDN's LFS objects, or the Xet bridge's files (addressed by their Xet hash). */
export type StoreKind = "cdn" | "bridge";

const KEY_PAIR_ID = "KFAKEHUBKEYPAIR";
const URL_TTL_SECONDS = 3600;

/**
 * The LFS objects the CDN origin can serve (or, for kind "bridge", the files the Xet bridge serves whole), addressed
 * by opaque keys, behind signed-looking URLs (`Expires`, `Signature`, `Key-Pair-Id`, like a CloudFront signed URL).
 * CDN paths end in the sha256 (`/repos/ab/cd/<key>/<sha256>`), bridge paths in the Xet hash
 * (`/xet-bridge-us/<key>/<xet hash>`).
 */
export class CdnStore {
  private readonly secret = randomBytes(32);
  private readonly objects = new Map<string, CdnObject>();

  constructor(readonly kind: StoreKind = "cdn") {}

  /** Registers the object and returns the path and query of a fresh signed URL for it. */
  signedPath(repoId: string, file: StoredFile): string {
    if (!file.lfs) {
      throw new Error(`fake hub: ${file.path} is not an LFS file`);
    }
    const sha256 = file.lfs.oid;
    const key = sha1Hex(this.kind, "\0", repoId, "\0", file.path, "\0", sha256);
    this.objects.set(key, { key, repoId, path: file.path, sha256, content: file.content });
    const pathname =
      this.kind === "cdn"
        ? `/repos/${key.slice(0, 2)}/${key.slice(2, 4)}/${key}/${sha256}`
        : `/xet-bridge-us/${key}/${xetHashOf(sha256)}`;
    const expires = Math.floor(Date.now() / 1000) + URL_TTL_SECONDS;
    const filename = file.path.split("/").pop() ?? file.path;
    const disposition = `inline; filename*=UTF-8''${encodeURIComponent(filename)}; filename="${filename.replace(/"/g, "")}";`;
    const query = new URLSearchParams({
      ...(this.kind === "bridge" ? { "X-Xet-Signed-Range": `bytes=0-${file.content.byteLength - 1}` } : {}),
      "response-content-disposition": disposition,
      "response-content-type": "application/octet-stream",
      Expires: String(expires),
      Signature: this.sign(pathname, expires),
      "Key-Pair-Id": KEY_PAIR_ID,
    });
    return `${pathname}?${query.toString()}`;
  }

  /** Looks up a CDN request: the object, or why it is refused. */
  lookup(pathname: string, query: URLSearchParams): CdnObject | "forbidden" | "expired" | "not-found" {
    const match =
      this.kind === "cdn"
        ? /^\/repos\/[0-9a-f]{2}\/[0-9a-f]{2}\/([0-9a-f]{40})\/([0-9a-f]{64})$/.exec(pathname)
        : /^\/xet-bridge-us\/([0-9a-f]{40})\/([0-9a-f]{64})$/.exec(pathname);
    if (!match) return "not-found";
    const expires = Number(query.get("Expires"));
    const signature = query.get("Signature") ?? "";
    const expected = Buffer.from(this.sign(pathname, expires));
    const given = Buffer.from(signature);
    if (!Number.isFinite(expires) || given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return "forbidden";
    }
    if (expires < Date.now() / 1000) return "expired";
    const object = this.objects.get(match[1] ?? "");
    const addressed = object && (this.kind === "cdn" ? object.sha256 : xetHashOf(object.sha256));
    if (!object || addressed !== match[2]) return "not-found";
    return object;
  }

  private sign(pathname: string, expires: number): string {
    return createHmac("sha256", this.secret).update(`${pathname}\n${expires}`).digest("base64url");
  }
}
