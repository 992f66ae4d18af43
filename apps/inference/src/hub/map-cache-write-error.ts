import { CacheNotWritableError, DiskFullError, HubError, type ArtifactRef } from "./errors.ts";

/** Maps a file-system failure while filling the cache to its typed error (ENOSPC / EDQUOT: disk full). */
export function mapCacheWriteError(error: unknown, artifact: ArtifactRef, cacheDir: string, neededBytes: number): HubError {
  if (error instanceof HubError) return error;
  const code = (error as { code?: unknown })?.code;
  if (code === "ENOSPC" || code === "EDQUOT") return new DiskFullError(artifact, neededBytes, cacheDir);
  return new CacheNotWritableError(artifact, cacheDir, typeof code === "string" ? code : "unexpected error");
}
