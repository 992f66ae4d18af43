import { readFile } from "node:fs/promises";
import { ConvertError, detectRepoFormat, transformersFilesToFetch } from "../convert/index.ts";
import type { ArtifactSpec, TransformersBaseSpec } from "./configured-artifacts.ts";
import {
  BaseFileRequiredError,
  LockfileMismatchError,
  NotAModelRepoError,
  NotCachedError,
  type ArtifactRef,
} from "./errors.ts";
import { listRepoFiles, type RepoListing } from "./list-repo-files.ts";
import { checkLicense, checkLockedBaseFiles, lockedArtifactFor, type Lockfile } from "./policy/index.ts";
import { cacheLayout } from "./cache/index.ts";
import { commitFiles, type ResolvedModelFile } from "./commit-files.ts";
import type { HubSession } from "./session.ts";

/** The index of a sharded safetensors model: fetched first, it names the shards. */
export const SAFETENSORS_INDEX = "model.safetensors.index.json";

export interface ResolveTransformersBaseParams {
  session: HubSession;
  base: TransformersBaseSpec;
  /** The lockfile in force, if any, and the artifacts named by file (see lockedArtifactFor). */
  lock?: { lockfile: string; lock: Lockfile; specs: readonly ArtifactSpec[] } | undefined;
  /**
   * Called once the repo is listed and known to be a transformers model, before any of its files is downloaded:
   * checks that can refuse the base (the adapter's licence and declared base) cost no download.
   */
  beforeDownload?: (listing: RepoListing) => void | Promise<void>;
}

export interface ResolvedTransformersBase {
  listing: RepoListing;
  /** The files the converter reads, each verified in the Hub cache at the listed commit (revision: as configured). */
  files: ResolvedModelFile[];
  /** The licence the Hub declares for the commit (checked against MODEL_LICENSES_ALLOWED). */
  license: string | undefined;
}

/**
 * BASE_MODEL as a transformers repo (BASE_MODEL_FILE unset): list it at the pinned commit, tell its format (a GGUF
 * repo or anything else is refused with one line naming the repo), then fetch the files the converter needs through
 * the same supply chain as any single file (verified by sha256, locked with role `base_file`, licence-checked): the
 * safetensors index first when the weights are sharded, then config, weights, tokenizer and generation files. Every
 * file is fetched by the listed commit, so a branch that moves meanwhile cannot mix two commits.
 */
export async function resolveTransformersBase(
  params: ResolveTransformersBaseParams,
): Promise<ResolvedTransformersBase> {
  const { base, session } = params;
  const artifact: ArtifactRef = { repo: base.repo, revision: base.revision };
  const lockedFiles = params.lock?.lock.artifacts.filter((a) => a.role === "base_file") ?? [];
  if (params.lock && lockedFiles.length === 0) {
    // The lock names other artifacts (e.g. a GGUF base): the configuration changed.
    throw new LockfileMismatchError(artifact, params.lock.lockfile, "the configuration names a transformers base");
  }
  const { listing, online } = await listRepoFiles({
    session,
    repo: base.repo,
    revision: base.revision,
    revisionVariable: "BASE_MODEL_VERSION",
    lock: params.lock ? { lockfile: params.lock.lockfile, files: lockedFiles } : undefined,
  });
  const format = detectRepoFormat(listing.files);
  // From the cache, the listing is what an earlier start fetched: an incomplete set is "not cached", not "not a model".
  if (listing.source !== "hub" && format !== "transformers") throw new NotCachedError(artifact);
  if (format === "gguf")
    throw new BaseFileRequiredError(
      artifact,
      listing.files.filter((f) => f.endsWith(".gguf")),
    );
  if (format !== "transformers") throw new NotAModelRepoError(artifact);
  const license = checkLicense({ hub: listing.license, gguf: undefined }, session.licensesAllowed, artifact);
  await params.beforeDownload?.(listing);

  // Every file is taken at the listed commit. Listed from the cache (offline, or the Hub unusable), its files come
  // from the cache too; listed on the Hub, one paths-info request covers every file the converter may read (the
  // fixed ones and each top-level safetensors file, which includes the shards the index will name).
  const atCommit = commitFiles({
    session,
    layout: cacheLayout(session.cacheDir, base.repo),
    repo: base.repo,
    revision: base.revision,
    commit: listing.commit,
    online: online && {
      hub: online.hub,
      kind: online.remote.kind,
      license: online.remote.license,
      cardBaseModel: online.remote.cardBaseModel,
      ggufFiles: online.remote.ggufFiles,
    },
    source: listing.source === "offline-cache" ? "offline-cache" : "cache",
  });
  await atCommit.prefetch(candidateFiles(listing.files).map((file) => ({ file })));

  const fetchFile = async (file: string): Promise<ResolvedModelFile> => {
    const fileRef: ArtifactRef = { repo: base.repo, revision: base.revision, file };
    const resolved = await atCommit.resolve({
      file,
      lock: params.lock
        ? lockedArtifactFor(params.lock.lock, params.lock.lockfile, params.lock.specs, spec(base, file), fileRef)
        : undefined,
    });
    return { ...resolved, license: resolved.license ?? listing.license };
  };

  const index = listing.files.includes(SAFETENSORS_INDEX) ? await fetchFile(SAFETENSORS_INDEX) : undefined;
  let indexJson: unknown;
  if (index) {
    try {
      indexJson = JSON.parse(await readFile(index.path, "utf8"));
    } catch {
      throw new NotAModelRepoError(artifact, `${SAFETENSORS_INDEX} is not valid JSON`);
    }
  }
  const wanted = filesToFetch(listing.files, indexJson, artifact).filter((file) => file !== SAFETENSORS_INDEX);
  if (params.lock)
    checkLockedBaseFiles(
      params.lock.lock,
      params.lock.lockfile,
      [...(index ? [SAFETENSORS_INDEX] : []), ...wanted],
      artifact,
    );
  const files = index ? [index] : [];
  for (const file of wanted) files.push(await fetchFile(file));
  return { listing, files, license };
}

/** What the converter may read before its index is known: its fixed files and every top-level safetensors file. */
export function candidateFiles(files: readonly string[]): string[] {
  let fixed: string[] = [];
  try {
    fixed = transformersFilesToFetch(files);
  } catch {
    // Not a usable model: the error comes when its files are named (filesToFetch).
  }
  const weights = files.filter((file) => !file.includes("/") && file.endsWith(".safetensors"));
  return [...new Set([...fixed, ...weights])];
}

/** The converter's file list; a repo that lacks one of them (no tokenizer, a shard missing) is not a usable model. */
export function filesToFetch(files: readonly string[], indexJson: unknown, artifact: ArtifactRef): string[] {
  try {
    return transformersFilesToFetch(files, indexJson);
  } catch (error) {
    if (error instanceof ConvertError) throw new NotAModelRepoError(artifact, error.message);
    throw error;
  }
}

function spec(base: TransformersBaseSpec, file: string): ArtifactSpec {
  return { role: "base_file", repo: base.repo, revision: base.revision, file, sha256: undefined };
}
