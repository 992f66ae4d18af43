import { rename, rm, stat } from "node:fs/promises";
import { withBlobLock } from "./blob-lock.ts";
import type { CacheLayout } from "./cache-layout.ts";
import { downloadBlob } from "./download-blob.ts";
import { IntegrityError, type ArtifactRef } from "./errors.ts";
import type { EventSink } from "./events.ts";
import { findMismatch } from "./find-mismatch.ts";
import { linkSnapshot } from "./link-snapshot.ts";
import { mapCacheWriteError } from "./map-cache-write-error.ts";
import type { RetrySettings } from "./retry-policy.ts";
import { writeVerifiedMarker } from "./verified-marker.ts";
import { verifyCachedFile, type Expected, type VerifiedFile } from "./verify-cached-file.ts";

export interface CacheFileParams {
  layout: CacheLayout;
  commit: string;
  file: string;
  /** The blob's name: the LFS sha256, or the git sha1 of a small file. */
  etag: string;
  expected: Expected & { size: number };
  /** The file's resolve URL on the Hub origin, by commit. */
  url: string;
  fetch: typeof fetch;
  authorization?: string | undefined;
  retry: RetrySettings;
  reverify: boolean;
  artifact: ArtifactRef;
  onProgress?: (progress: { downloadedBytes: number; totalBytes: number }) => void;
  onEvent?: EventSink;
}

export interface CachedFile extends VerifiedFile {
  /** Body bytes this process received (0 when the cache already had the blob). */
  fetchedBytes: number;
}

/**
 * Makes `snapshots/<commit>/<file>` point at a verified blob: reuse the cached blob (trusting its verified marker
 * unless MODEL_REVERIFY), or download it under a cross-process lock (a second process waits, then finds the blob),
 * hashing as it arrives, and only then rename it to its blob name, record the marker and link the snapshot.
 * A blob under its final name is therefore always complete and checked.
 */
export async function cacheFile(params: CacheFileParams): Promise<CachedFile> {
  const { layout, artifact, expected } = params;
  const snapshot = layout.snapshotPath(params.commit, params.file);
  const blob = layout.blobPath(params.etag);
  const fromCache = async (): Promise<CachedFile> => {
    await linkSnapshot(snapshot, blob);
    const verified = await verifyCachedFile(snapshot, expected, artifact, {
      markerFor: layout.markerPath,
      rehash: params.reverify,
    });
    return { ...verified, fetchedBytes: 0 };
  };
  if (await isFile(blob)) return fromCache();

  const onWait = () =>
    params.onEvent?.({ level: "info", msg: "another process is downloading this file; waiting for it", fields: { file: params.file } });
  return withBlobLock({ lockPath: layout.lockPath(params.etag), onWait }, async (signal) => {
    if (await isFile(blob)) return fromCache();
    const partial = `${blob}.incomplete`;
    const downloaded = await downloadBlob({
      url: params.url,
      fetch: params.fetch,
      authorization: params.authorization,
      partialPath: partial,
      size: expected.size,
      withGitSha1: expected.gitOid !== undefined,
      retry: params.retry,
      artifact,
      cacheDir: layout.cacheDir,
      signal,
      ...(params.onProgress ? { onProgress: params.onProgress } : {}),
      ...(params.onEvent ? { onEvent: params.onEvent } : {}),
    });
    const mismatch = findMismatch(downloaded.digests, expected);
    if (mismatch) {
      await rm(partial, { force: true });
      throw new IntegrityError(artifact, mismatch);
    }
    await rename(partial, blob);
    await writeVerifiedMarker(layout.markerPath(params.etag), blob, downloaded.digests);
    await linkSnapshot(snapshot, blob);
    return {
      path: snapshot,
      blobPath: blob,
      size: expected.size,
      sha256: downloaded.digests.sha256,
      trustedMarker: false,
      fetchedBytes: downloaded.fetchedBytes,
    };
  }).catch((error: unknown) => {
    throw mapCacheWriteError(error, artifact, layout.cacheDir, expected.size);
  });
}

async function isFile(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isFile(),
    () => false,
  );
}
