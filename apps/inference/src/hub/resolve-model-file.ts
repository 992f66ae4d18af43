import { downloadFileToCacheDir, modelInfo, pathsInfo } from "@huggingface/hub";
import { rm } from "node:fs/promises";
import { cacheLayout, readRef, writeRef, COMMIT_HASH, type CacheLayout } from "./cache-layout.ts";
import {
  DownloadInterruptedError,
  EntryNotFoundError,
  HubError,
  HubUnavailableError,
  NotCachedError,
  RateLimitedError,
  UnexpectedHubResponseError,
  type ArtifactRef,
} from "./errors.ts";
import { createHubFetch } from "./hub-fetch.ts";
import { verifyCachedFile, type Expected } from "./verify-cached-file.ts";

export interface ResolveModelFileParams {
  repo: string;
  /** Branch, tag or commit, as the user wrote it. */
  revision: string;
  file: string;
  /** MODEL_SHA256, when the user pins the content. */
  sha256?: string | undefined;
  hubUrl: string;
  cacheDir: string;
  accessToken?: string | undefined;
  offline: boolean;
  fetch?: typeof fetch;
  onProgress?: (progress: { downloadedBytes: number; totalBytes: number }) => void;
  /** Told when the Hub could not be asked and the cached commit is used instead. */
  onFallback?: (reason: HubError) => void;
}

export interface ResolvedModelFile {
  repo: string;
  revision: string;
  commit: string;
  file: string;
  /** Snapshot path (a symlink into blobs/), what llama.cpp loads. */
  path: string;
  size: number;
  sha256: string;
  license: string | undefined;
  source: "download" | "cache" | "offline-cache";
}

/**
 * The supply chain for one file: resolve the revision to a commit, write refs/<revision>, look up the file's size
 * and checksum, download it into the Python-compatible cache with @huggingface/hub (always by commit, so the snapshot
 * folder is right), then verify size and sha256. With HF_HUB_OFFLINE, or when the Hub cannot be reached, the cached
 * commit for the revision is used and verified from the blob's own name.
 */
export async function resolveModelFile(params: ResolveModelFileParams): Promise<ResolvedModelFile> {
  const layout = cacheLayout(params.cacheDir, params.repo);
  const artifact: ArtifactRef = { repo: params.repo, revision: params.revision, file: params.file };
  if (params.offline) return fromCache(params, layout, artifact, "offline-cache");

  const hadToken = params.accessToken !== undefined;
  let downloaded = 0;
  let total = 0;
  const hub = createHubFetch({
    hubUrl: params.hubUrl,
    artifact,
    hadToken,
    ...(params.fetch ? { fetch: params.fetch } : {}),
    onBytes: (bytes) => {
      downloaded += bytes;
      params.onProgress?.({ downloadedBytes: downloaded, totalBytes: total });
    },
  });
  const common = { hubUrl: params.hubUrl, fetch: hub.fetch, ...(hadToken ? { accessToken: params.accessToken } : {}) };

  let info: Awaited<ReturnType<typeof modelInfo<"sha" | "cardData" | "tags" | "filePaths">>>;
  try {
    info = await modelInfo({
      ...common,
      name: params.repo,
      revision: params.revision,
      additionalFields: ["sha", "cardData", "tags", "filePaths"],
    });
  } catch (error) {
    const typed = hub.lastError() ?? toHubError(error, artifact);
    if (typed instanceof HubUnavailableError || typed instanceof RateLimitedError) {
      const cached = await fromCache(params, layout, artifact, "cache").catch(() => undefined);
      if (cached) {
        params.onFallback?.(typed);
        return cached;
      }
    }
    throw typed;
  }
  const commit = info.sha;
  if (typeof commit !== "string" || !COMMIT_HASH.test(commit)) {
    throw new UnexpectedHubResponseError(artifact, "no commit sha for the revision");
  }
  await writeRef(layout, params.revision, commit);

  const entries = await pathsInfo({ ...common, repo: params.repo, revision: commit, paths: [params.file] }).catch(
    (error: unknown) => {
      throw hub.lastError() ?? toHubError(error, artifact);
    },
  );
  const entry = entries.find((e) => e.path === params.file && e.type === "file");
  if (!entry) {
    const ggufs = (info.filePaths ?? []).filter((p) => p.endsWith(".gguf"));
    throw new EntryNotFoundError(artifact, ggufs);
  }
  const expected: Expected = {
    size: entry.lfs?.size ?? entry.size,
    sha256: [...(entry.lfs ? [entry.lfs.oid] : []), ...(params.sha256 ? [params.sha256] : [])],
    ...(entry.lfs ? {} : { gitOid: entry.oid }),
  };
  if (entry.lfs && params.sha256 && entry.lfs.oid !== params.sha256) {
    throw new UnexpectedHubResponseError(
      artifact,
      `the Hub declares sha256 ${entry.lfs.oid} but MODEL_SHA256 pins ${params.sha256}`,
    );
  }
  total = expected.size ?? 0;
  downloaded = 0; // count only the file's body from here on, not the API answers above

  let path: string;
  try {
    path = await downloadFileToCacheDir({
      ...common,
      repo: params.repo,
      path: params.file,
      revision: commit,
      cacheDir: params.cacheDir,
      // Plain resolve downloads only: the Xet protocol path is neither supported nor tested here.
      ...({ xet: false } as object),
    });
  } catch (error) {
    const etag = entry.lfs?.oid ?? entry.oid;
    if (etag) await rm(`${layout.blobPath(etag)}.incomplete`, { force: true });
    // A body that breaks off reaches us as a bare string (the library aborts its stream with `error.message`).
    throw hub.lastError() ?? new DownloadInterruptedError(artifact, "connection closed");
  }
  const verified = await verifyCachedFile(path, expected, artifact);
  return {
    repo: params.repo,
    revision: params.revision,
    commit,
    file: params.file,
    path,
    size: verified.size,
    sha256: verified.sha256,
    license: licenseOf(info),
    source: downloaded > 0 ? "download" : "cache",
  };
}

async function fromCache(
  params: ResolveModelFileParams,
  layout: CacheLayout,
  artifact: ArtifactRef,
  source: "cache" | "offline-cache",
): Promise<ResolvedModelFile> {
  const commit = await readRef(layout, params.revision);
  if (!commit) throw new NotCachedError(artifact);
  const snapshot = layout.snapshotPath(commit, params.file);
  const verified = await verifyCachedFile(snapshot, params.sha256 ? { sha256: [params.sha256] } : {}, artifact).catch(
    (error: unknown) => {
      if (error instanceof HubError) throw error;
      throw new NotCachedError(artifact);
    },
  );
  return {
    repo: params.repo,
    revision: params.revision,
    commit,
    file: params.file,
    path: snapshot,
    size: verified.size,
    sha256: verified.sha256,
    license: undefined,
    source,
  };
}

function licenseOf(info: { cardData?: unknown; tags?: unknown }): string | undefined {
  const card = info.cardData as { license?: unknown } | undefined;
  if (typeof card?.license === "string") return card.license;
  const tags = Array.isArray(info.tags) ? (info.tags as unknown[]) : [];
  const tag = tags.find((t): t is string => typeof t === "string" && t.startsWith("license:"));
  return tag?.slice("license:".length);
}

function toHubError(error: unknown, artifact: ArtifactRef): HubError {
  if (error instanceof HubError) return error;
  // Never pass the library's message on: it embeds the request URL.
  return new UnexpectedHubResponseError(artifact, error instanceof Error ? error.name : "unknown failure");
}
