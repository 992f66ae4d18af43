import { createReadStream } from "node:fs";
import { mkdir, open, rm, stat, statfs, type FileHandle } from "node:fs/promises";
import { dirname } from "node:path";
import {
  DownloadInterruptedError,
  HubError,
  IntegrityError,
  UnexpectedHubResponseError,
  type ArtifactRef,
  type HostRef,
} from "../errors.ts";
import { backoffDelay, DEFAULT_TIMEOUT_MS, hostOf, networkReason, sleep, type HubConnection } from "../remote/index.ts";
import type { HubSession } from "../session.ts";
import { createBlobHasher, type BlobDigests, type BlobHasher } from "./hashing.ts";
import { mapCacheWriteError } from "./layout.ts";

export interface DownloadBlobParams {
  /** Retries (resumes without progress), the cache (for messages), progress and events. */
  session: Pick<HubSession, "retry" | "cacheDir" | "onProgress" | "onEvent">;
  /**
   * The Hub fetch (typed errors, retries on 429/5xx/network, token kept on the Hub origin) and the authorization,
   * sent to the Hub origin only; and HF_HUB_DOWNLOAD_TIMEOUT, the longest silence of a body before it is resumed.
   */
  hub: Pick<HubConnection, "fetch" | "authorization"> & Partial<Pick<HubConnection, "timeoutMs">>;
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
 * Downloads one blob into `partialPath`, hashing as it writes. Every GET is ranged, from the first byte on
 * (`Range: bytes=0-`: the Xet bridge answers 400 to an unranged GET of a file over 50 GB). When the body breaks off,
 * or stays silent for HF_HUB_DOWNLOAD_TIMEOUT, the download resumes with `Range: bytes=<n>-` (and `If-Range` with
 * the strong ETag of the reply the bytes on disk came from), up to `retry.retries` times without progress.
 * A server that sends the whole file instead (200: the range ignored, or the ETag moved), or a 206 under another
 * ETag than the bytes on disk (a server that ignores If-Range), restarts the file cleanly from zero, at most
 * `retry.retries` times; one that sends more than `size` bytes is refused.
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

    const hubOrigin = new URL(params.url).origin;
    const timeoutMs = params.hub.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    /** The strong ETag of the reply the bytes on disk came from (unknown for a leftover of a dead process). */
    let etag: string | undefined;
    let host: HostRef | undefined;
    let resumes = 0;
    let stalls = 0;
    let restarts = 0;
    const restart = async (why: string) => {
      restarts += 1;
      if (restarts > session.retry.retries) {
        throw new DownloadInterruptedError(
          artifact,
          `the server started the file over ${restarts} times: ${why}`,
          host,
        );
      }
      session.onEvent?.({
        level: "warn",
        msg: `${why}; downloading from the start`,
        fields: { offset: state.offset, size },
      });
      state.offset = 0;
      state.hasher = createBlobHasher(size, params.withGitSha1);
      etag = undefined;
      await handle!.truncate(0);
    };
    for (;;) {
      // Complete already (a process died after the last byte, or a resume just finished): nothing to ask for, and
      // `Range: bytes=<size>-` would only earn a 416.
      if (state.offset === size) break;
      throwIfLockLost(params);
      const headers = new Headers(params.hub.authorization ? { authorization: params.hub.authorization } : {});
      headers.set("range", `bytes=${state.offset}-`);
      if (state.offset > 0 && etag) headers.set("if-range", etag);
      const idle = new AbortController();
      const response = await params.hub.fetch(params.url, { headers, signal: idle.signal });
      host = hostOf(response.url || params.url, hubOrigin);
      if ((response.headers.get("content-type") ?? "").includes(XET_FILE_INFO)) {
        await response.body?.cancel().catch(() => {});
        throw new UnexpectedHubResponseError(
          artifact,
          "Xet file info instead of the file (the service downloads over plain HTTPS and never asks for it)",
        );
      }
      const replyEtag = strongEtag(response.headers.get("etag"));
      const start = startOf(response, state.offset, size, artifact);
      if (state.offset > 0 && start === 0) {
        await restart(
          `${host.subject} sent the whole file to a resumed request (its ETag changed, or it ignores ranges)`,
        ).catch(async (error: unknown) => {
          await response.body?.cancel().catch(() => {});
          throw error;
        });
      } else if (state.offset > 0 && etag && replyEtag && replyEtag !== etag) {
        await response.body?.cancel().catch(() => {});
        await restart(`${host.subject} continued the file under another ETag (the file changed)`);
        continue;
      }
      if (state.offset === 0 || etag === undefined) etag = replyEtag;
      const before = state.offset;
      const failure = await copyBody(response, handle, state, params, idle, timeoutMs);
      if (state.offset === size) break;
      const reason =
        failure === undefined
          ? "connection closed early"
          : failure instanceof SilentBody
            ? `no data for ${Number((timeoutMs / 1000).toFixed(3))} s, HF_HUB_DOWNLOAD_TIMEOUT`
            : networkReason(failure);
      stalls = state.offset > before ? 0 : stalls + 1;
      if (stalls > session.retry.retries) throw new DownloadInterruptedError(artifact, reason, host);
      const waitMs = backoffDelay(stalls, session.retry);
      resumes += 1;
      session.onEvent?.({
        level: "warn",
        msg: `download interrupted (${reason}, from ${host.subject}); resuming from byte ${state.offset} of ${size} in ${waitMs} ms`,
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

/** The content type of the Xet file info a Xet client asks for; a plain download must never get it as the file. */
const XET_FILE_INFO = "application/vnd.xet-fileinfo+json";

/** A body that sent nothing for HF_HUB_DOWNLOAD_TIMEOUT: aborted, then resumed like a dropped connection. */
class SilentBody extends Error {
  override readonly name = "SilentBody";
}

interface TransferState {
  /** Bytes on disk and hashed, in order. */
  offset: number;
  hasher: BlobHasher;
  fetchedBytes: number;
}

/**
 * Streams the body to the file in ~1 MiB writes; each chunk is hashed once it is written, so `state` always
 * describes the bytes on disk. A body silent for `timeoutMs` is aborted (through `idle`, the request's signal).
 * Returns the failure that ended the body early (a SilentBody, or a network error), if any; file-system errors
 * and an over-long body throw.
 */
async function copyBody(
  response: Response,
  handle: FileHandle,
  state: TransferState,
  params: DownloadBlobParams,
  idle: AbortController,
  timeoutMs: number,
): Promise<unknown> {
  const reader = response.body?.getReader();
  if (!reader) return undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => idle.abort(new SilentBody()), timeoutMs);
  };
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
      arm();
      try {
        result = await reader.read();
      } catch (error) {
        await flush();
        return idle.signal.aborted && idle.signal.reason instanceof SilentBody ? idle.signal.reason : error;
      } finally {
        clearTimeout(timer);
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

/**
 * Where the body of a reply to `Range: bytes=<offset>-` starts: at `offset` (a 206 continuing the file), or at 0
 * (a 200: the whole file, gzip-compressed or not). Anything else is refused.
 */
function startOf(response: Response, offset: number, size: number, artifact: ArtifactRef): number {
  if (response.status === 200) return 0;
  const range = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(response.headers.get("content-range") ?? "");
  if (
    response.status !== 206 ||
    !range ||
    Number(range[1]) !== offset ||
    (range[3] !== "*" && Number(range[3]) !== size)
  ) {
    void response.body?.cancel().catch(() => {});
    throw new UnexpectedHubResponseError(
      artifact,
      `a ranged download from byte ${offset} answered HTTP ${response.status}${range ? " with another range" : ""}`,
    );
  }
  return offset;
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
