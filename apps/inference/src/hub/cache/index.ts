/** The Hub cache: its Python-compatible layout, verified blobs (downloaded under a lock, hashed on the way) and bookkeeping. */
export { cacheFile, type CachedFile } from "./cache-file.ts";
export { readCommitInfo, recordVerifiedFile, writeCommitInfo, type CommitInfo } from "./commit-info.ts";
export { cacheLayout, mapCacheWriteError, readRef, writeRef, type CacheLayout } from "./layout.ts";
export { verifyCachedFile, type VerifiedFile } from "./verify-cached-file.ts";
