import { rename, rm, stat } from "node:fs/promises";
import { IntegrityError, type ArtifactRef } from "../errors.ts";
import type { HubConnection, RemoteFile } from "../remote/index.ts";
import type { HubSession } from "../session.ts";
import { withBlobLock } from "./blob-lock.ts";
import { downloadBlob } from "./download-blob.ts";
import { findMismatch } from "./hashing.ts";
import { linkSnapshot, mapCacheWriteError, type CacheLayout } from "./layout.ts";
import { writeVerifiedMarker } from "./verified-marker.ts";
import { verifyCachedFile, type VerifiedFile } from "./verify-cached-file.ts";

export interface CacheFileParams {
  session: Pick<HubSession, "cacheDir" | "retry" | "reverify" | "onProgress" | "onEvent">;
  hub: Pick<HubConnection, "fetch" | "authorization">;
  layout: CacheLayout;
  commit: string;
  file: string;
  /** What the Hub declares for the file at the commit: its blob name, size and checksums, and its resolve URL. */
  remote: Pick<RemoteFile, "etag" | "expected" | "url">;
  artifact: ArtifactRef;
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
  const { layout, artifact, session } = params;
  const { etag, expected } = params.remote;
  const snapshot = layout.snapshotPath(params.commit, params.file);
  const blob = layout.blobPath(etag);
  const fromCache = async (): Promise<CachedFile> => {
    await linkSnapshot(snapshot, blob);
    const verified = await verifyCachedFile(snapshot, expected, artifact, {
      markerFor: layout.markerPath,
      rehash: session.reverify,
    });
    return { ...verified, fetchedBytes: 0 };
  };
  if (await isFile(blob)) return fromCache();

  const onWait = () =>
    session.onEvent?.({
      level: "info",
      msg: "another process is downloading this file; waiting for it",
      fields: { file: params.file },
    });
  return withBlobLock({ lockPath: layout.lockPath(etag), onWait }, async (signal) => {
    if (await isFile(blob)) return fromCache();
    const partial = `${blob}.incomplete`;
    const downloaded = await downloadBlob({
      session,
      hub: params.hub,
      url: params.remote.url,
      partialPath: partial,
      size: expected.size,
      withGitSha1: expected.gitOid !== undefined,
      artifact,
      signal,
    });
    const mismatch = findMismatch(downloaded.digests, expected);
    if (mismatch) {
      await rm(partial, { force: true });
      throw new IntegrityError(artifact, mismatch);
    }
    await rename(partial, blob);
    await writeVerifiedMarker(layout.markerPath(etag), blob, downloaded.digests);
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
