import { createReadStream } from "node:fs";
import { mkdir, open, rm, stat, statfs, type FileHandle } from "node:fs/promises";
import { dirname } from "node:path";
import {
  DownloadInterruptedError,
  HubError,
  IntegrityError,
  UnexpectedHubResponseError,
  type ArtifactRef,
} from "../errors.ts";
import { backoffDelay, networkReason, sleep, type HubConnection } from "../remote/index.ts";
import type { HubSession } from "../session.ts";
import { createBlobHasher, type BlobDigests, type BlobHasher } from "./hashing.ts";
import { mapCacheWriteError } from "./layout.ts";

export interface DownloadBlobParams {
  /** Retries (resumes without progress), the cache (for messages), progress and events. */
  session: Pick<HubSession, "retry" | "cacheDir" | "onProgress" | "onEvent">;
  /**
   * The Hub fetch (typed errors, retries on 429/5xx/network, token kept on the Hub origin) and the authorization,
   * sent to the Hub origin only (Node's fetch drops it on the cross-origin redirect to the CDN).
   */
  hub: Pick<HubConnection, "fetch" | "authorization">;
  /** The file's resolve URL on the Hub origin, by commit; LFS files redirect from there to the CDN. */
  url: string;
  /** Where the bytes go (`<blob>.incomplete`); a leftover from a process that died is resumed. */
  partialPath: string;
  size: number;
  /** Also compute git's blob sha1 (small, non-LFS files are checked by it). */
  withGitSha1: boolean;
  artifact: ArtifactRef;
  /** Aborted when the cross-process lock was lost. */
  signal?: AbortSignal;
}

export interface DownloadedBlob {
  digests: BlobDigests;
  /** Body bytes received over the network by this call. */
  fetchedBytes: number;
  /** How many times the transfer was resumed with Range. */
  resumes: number;
}

const FLUSH_BYTES = 1 << 20;

/**
 * Downloads one blob into `partialPath`, hashing as it writes, and resumes with `Range: bytes=<n>-` (and `If-Range`
 * with the first reply's strong ETag) when the body breaks off, up to `retry.retries` times without progress.
 * A server that ignores the range (200) restarts the file from zero; one that sends more than `size` bytes is refused.
 * Returns the digests of exactly the bytes on disk; the caller compares them and renames the file into place.
 * On failure the partial file is removed: a failed start leaves nothing behind (a crash leaves it, to be resumed).
 *
 * Written by hand instead of using @huggingface/hub's downloadFileToCacheDir, which has no resume, no retry, no
 * lock and renames an unverified `.incomplete` file to its final blob name before anyone has checked it; here
 * the bytes are hashed while they arrive, so a verified blob never needs a second read.
 */
export async function downloadBlob(params: DownloadBlobParams): Promise<DownloadedBlob> {
  const { size, artifact, session } = params;
  let handle: FileHandle | undefined;
  try {
    await mkdir(dirname(params.partialPath), { recursive: true });
    const leftover = await stat(params.partialPath).then(
      (s) => (s.isFile() && s.size <= size ? s.size : 0),
      () => 0,
    );
    await ensureSpace(params, size - leftover);
    handle = await open(params.partialPath, "a").catch((error: unknown) => {
      throw mapCacheWriteError(error, artifact, session.cacheDir, size);
    });
    if ((await handle.stat()).size !== leftover) await handle.truncate(leftover);
    const state: TransferState = { offset: 0, hasher: createBlobHasher(size, params.withGitSha1), fetchedBytes: 0 };
    if (leftover > 0) {
      for await (const chunk of createReadStream(params.partialPath, {
        end: leftover - 1,
        highWaterMark: FLUSH_BYTES,
      })) {
        state.hasher.update(chunk as Buffer);
      }
      state.offset = leftover;
      session.onEvent?.({
        level: "info",
        msg: "resuming a download a previous process left unfinished",
        fields: { offset: leftover, size },
      });
    }

    let etag: string | undefined;
    let resumes = 0;
    let stalls = 0;
    for (;;) {
      // Complete already (a process died after the last byte, or a resume just finished): nothing to ask for, and
      // `Range: bytes=<size>-` would only earn a 416.
      if (state.offset === size) break;
      throwIfLockLost(params);
      const headers = new Headers(params.hub.authorization ? { authorization: params.hub.authorization } : {});
      if (state.offset > 0) {
        headers.set("range", `bytes=${state.offset}-`);
        if (etag) headers.set("if-range", etag);
      }
      const response = await params.hub.fetch(params.url, { headers });
      if (state.offset > 0 && !continuesAt(response, state.offset, size, artifact)) {
        session.onEvent?.({
          level: "warn",
          msg: "the server ignored the range request; downloading from the start",
          fields: { offset: state.offset },
        });
        state.offset = 0;
        state.hasher = createBlobHasher(size, params.withGitSha1);
        await handle.truncate(0);
      }
      etag ??= strongEtag(response.headers.get("etag"));
      const before = state.offset;
      const failure = await copyBody(response, handle, state, params);
      if (state.offset === size) break;
      const reason = failure === undefined ? "connection closed early" : networkReason(failure);
      stalls = state.offset > before ? 0 : stalls + 1;
      if (stalls > session.retry.retries) throw new DownloadInterruptedError(artifact, reason);
      const waitMs = backoffDelay(stalls, session.retry);
      resumes += 1;
      session.onEvent?.({
        level: "warn",
        msg: `download interrupted (${reason}); resuming from byte ${state.offset} of ${size} in ${waitMs} ms`,
        fields: { offset: state.offset, size, attempt: resumes },
      });
      await sleep(waitMs);
    }
    await handle.datasync();
    // What the caller renames into place is exactly what was hashed, and it still holds the lock.
    const onDisk = (await handle.stat()).size;
    if (onDisk !== size)
      throw new DownloadInterruptedError(artifact, `${onDisk} bytes on disk where ${size} were written`);
    throwIfLockLost(params);
    return { digests: state.hasher.digest(), fetchedBytes: state.fetchedBytes, resumes };
  } catch (error) {
    await handle?.close().catch(() => {});
    handle = undefined;
    await rm(params.partialPath, { force: true });
    if (error instanceof HubError) throw error;
    throw mapCacheWriteError(error, artifact, session.cacheDir, size);
  } finally {
    await handle?.close();
  }
}

interface TransferState {
  /** Bytes on disk and hashed, in order. */
  offset: number;
  hasher: BlobHasher;
  fetchedBytes: number;
}

/**
 * Streams the body to the file in ~1 MiB writes; each chunk is hashed once it is written, so `state` always
 * describes the bytes on disk. Returns the network failure that ended the body early, if any; file-system errors
 * and an over-long body throw.
 */
async function copyBody(
  response: Response,
  handle: FileHandle,
  state: TransferState,
  params: DownloadBlobParams,
): Promise<unknown> {
  const reader = response.body?.getReader();
  if (!reader) return undefined;
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  const flush = async () => {
    if (pendingBytes === 0) return;
    const chunks = pending;
    pending = [];
    pendingBytes = 0;
    let written = 0;
    for (const chunk of chunks) written += chunk.byteLength;
    await handle.writev(chunks);
    for (const chunk of chunks) state.hasher.update(chunk);
    state.offset += written;
    params.session.onProgress?.({ downloadedBytes: state.offset, totalBytes: params.size });
  };
  try {
    for (;;) {
      let result: ReadableStreamReadResult<Uint8Array>;
      try {
        result = await reader.read();
      } catch (error) {
        await flush();
        return error;
      }
      if (result.done) break;
      // A writer that lost the cross-process lock stops at once: another process now owns the file.
      throwIfLockLost(params);
      const chunk = result.value;
      state.fetchedBytes += chunk.byteLength;
      if (state.offset + pendingBytes + chunk.byteLength > params.size) {
        throw new IntegrityError(
          params.artifact,
          `the server sent more than the ${params.size} bytes the Hub declares`,
        );
      }
      pending.push(chunk);
      pendingBytes += chunk.byteLength;
      if (pendingBytes >= FLUSH_BYTES) await flush();
    }
    await flush();
    return undefined;
  } finally {
    reader.releaseLock();
    await response.body?.cancel().catch(() => {});
  }
}

function throwIfLockLost(params: DownloadBlobParams): void {
  if (params.signal?.aborted)
    throw new DownloadInterruptedError(params.artifact, "another process took over the cache lock");
}

/** Whether a reply to `Range: bytes=<offset>-` continues the file (206 from offset) or starts it over (200). */
function continuesAt(response: Response, offset: number, size: number, artifact: ArtifactRef): boolean {
  if (response.status === 200) return false;
  const range = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(response.headers.get("content-range") ?? "");
  if (
    response.status !== 206 ||
    !range ||
    Number(range[1]) !== offset ||
    (range[3] !== "*" && Number(range[3]) !== size)
  ) {
    throw new UnexpectedHubResponseError(
      artifact,
      `a resumed download answered HTTP ${response.status} with another range`,
    );
  }
  return true;
}

/** The ETag, when it is a strong one (If-Range accepts only those). */
function strongEtag(etag: string | null): string | undefined {
  return etag && !etag.startsWith("W/") ? etag : undefined;
}

/**
 * Refuses to start a download the disk cannot hold. statfs is skipped where it reports no block count
 * (some network and FUSE file systems), and ENOSPC is still mapped while writing.
 */
async function ensureSpace(params: DownloadBlobParams, needed: number): Promise<void> {
  const info = await statfs(dirname(params.partialPath)).catch(() => undefined);
  if (!info || info.blocks === 0) return;
  if (info.bavail * info.bsize < needed) {
    throw mapCacheWriteError(
      Object.assign(new Error("no space"), { code: "ENOSPC" }),
      params.artifact,
      params.session.cacheDir,
      params.size,
    );
  }
}
