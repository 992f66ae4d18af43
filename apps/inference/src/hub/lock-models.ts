import { readFile } from "node:fs/promises";
import type { InferenceConfig } from "@slm/config";
import { detectRepoFormat } from "../convert/index.ts";
import { cacheFile, cacheLayout } from "./cache/index.ts";
import { configuredArtifacts, transformersBaseOf, type ArtifactSpec } from "./configured-artifacts.ts";
import { BaseFileRequiredError, EntryNotFoundError, NotAModelRepoError, type ArtifactRef } from "./errors.ts";
import { checkLicense, type LockedArtifact, type Lockfile } from "./policy/index.ts";
import { connectHub, lookupFiles, resolveRevision, type RemoteFile } from "./remote/index.ts";
import { candidateFiles, filesToFetch, SAFETENSORS_INDEX } from "./resolve-transformers-base.ts";
import { hubSessionFromConfig, type HubHooks } from "./session.ts";

/** Locking never falls back to the cache, so there is no fallback to hear about. */
export type LockModelsHooks = Omit<HubHooks, "onFallback">;

/**
 * What `pnpm models:lock` writes: each configured artifact resolved on the Hub (never from the cache, never against
 * an existing lockfile) to its commit, size, sha256 and licence. LFS files are described by the Hub, so nothing is
 * downloaded; a small (non-LFS) file has no declared sha256 and is downloaded and hashed. The licence policy
 * applies to the Hub's licence here (the GGUF's own is checked when the file is pulled). A transformers base
 * (MODEL_TYPE=lora, BASE_MODEL_FILE unset) is listed at its commit and each file the converter reads is locked with
 * role `base_file` (the sharded weights' index is read to name the shards).
 */
export async function lockModels(config: InferenceConfig, hooks: LockModelsHooks = {}): Promise<Lockfile> {
  const session = await hubSessionFromConfig(config, hooks);
  const artifacts: LockedArtifact[] = [];

  const resolveRepo = async (repo: string, revision: string) => {
    const artifact: ArtifactRef = { repo, revision };
    const connection = connectHub(session, artifact);
    const remote = await resolveRevision(connection, repo, revision, artifact);
    if (remote.kind === "branch") {
      session.onEvent?.({
        level: "warn",
        msg: "locking a branch: the lockfile pins its current commit",
        fields: { revision, commit: remote.commit },
      });
    }
    const license = checkLicense({ hub: remote.license, gguf: undefined }, session.licensesAllowed, artifact);
    return { connection, remote, license, files: new Map<string, RemoteFile | undefined>() };
  };
  type ResolvedRepo = Awaited<ReturnType<typeof resolveRepo>>;
  /** Looks up the files not looked up yet, in one paths-info request (the Hub's quota counts requests). */
  const describe = async (
    resolved: ResolvedRepo,
    specs: readonly Pick<ArtifactSpec, "repo" | "revision" | "file" | "sha256">[],
  ) => {
    const wanted = specs.filter(
      (spec, i) => !resolved.files.has(spec.file) && specs.findIndex((s) => s.file === spec.file) === i,
    );
    if (wanted.length === 0) return;
    const first = wanted[0]!;
    const found = await lookupFiles(
      resolved.connection,
      {
        repo: first.repo,
        commit: resolved.remote.commit,
        files: wanted.map((w) => ({ file: w.file, pinnedSha256: w.sha256 })),
      },
      (file) => ({ repo: first.repo, revision: first.revision, file }),
    );
    for (const spec of wanted) resolved.files.set(spec.file, found.get(spec.file));
  };
  /**
   * Locks one file of a resolved repo. A file without a declared sha256, or one whose content is needed (`read`), is
   * downloaded into the cache and hashed; its path is returned then.
   */
  const lockFile = async (spec: ArtifactSpec, resolved: ResolvedRepo, read = false) => {
    const artifact: ArtifactRef = { repo: spec.repo, revision: spec.revision, file: spec.file };
    const { connection, remote } = resolved;
    await describe(resolved, [spec]);
    const file = resolved.files.get(spec.file);
    if (!file) throw new EntryNotFoundError(artifact, remote.ggufFiles);
    const downloaded =
      file.declaredSha256 === undefined || read
        ? await cacheFile({
            session,
            hub: connection,
            layout: cacheLayout(session.cacheDir, spec.repo),
            commit: remote.commit,
            file: spec.file,
            remote: file,
            artifact,
          })
        : undefined;
    artifacts.push({
      role: spec.role,
      ...(spec.adapter ? { adapter: spec.adapter } : {}),
      repo: spec.repo,
      revision: spec.revision,
      commit: remote.commit,
      file: spec.file,
      size: file.expected.size,
      sha256: downloaded?.sha256 ?? file.declaredSha256!,
      license: resolved.license ?? null,
    });
    return downloaded?.path;
  };

  const base = transformersBaseOf(config.model);
  if (base) {
    const resolved = await resolveRepo(base.repo, base.revision);
    const artifact: ArtifactRef = base;
    const format = detectRepoFormat(resolved.remote.files);
    if (format === "gguf") throw new BaseFileRequiredError(artifact, resolved.remote.ggufFiles);
    if (format !== "transformers") throw new NotAModelRepoError(artifact);
    const spec = (file: string): ArtifactSpec => ({
      role: "base_file",
      repo: base.repo,
      revision: base.revision,
      file,
      sha256: undefined,
    });
    await describe(resolved, candidateFiles(resolved.remote.files).map(spec));
    let indexJson: unknown;
    if (resolved.remote.files.includes(SAFETENSORS_INDEX)) {
      const path = await lockFile(spec(SAFETENSORS_INDEX), resolved, true);
      try {
        indexJson = JSON.parse(await readFile(path!, "utf8"));
      } catch {
        throw new NotAModelRepoError(artifact, `${SAFETENSORS_INDEX} is not valid JSON`);
      }
    }
    for (const file of filesToFetch(resolved.remote.files, indexJson, artifact)) {
      if (file !== SAFETENSORS_INDEX) await lockFile(spec(file), resolved);
    }
  }
  // Artifacts of one repo at one revision (a PEFT adapter's config and weights) share one revision lookup and one
  // paths-info request.
  const specs = configuredArtifacts(config.model);
  const repos = new Map<string, ResolvedRepo>();
  for (const spec of specs) {
    const key = `${spec.repo}@${spec.revision}`;
    let resolved = repos.get(key);
    if (!resolved) {
      resolved = await resolveRepo(spec.repo, spec.revision);
      repos.set(key, resolved);
      await describe(
        resolved,
        specs.filter((s) => s.repo === spec.repo && s.revision === spec.revision),
      );
    }
    await lockFile(spec, resolved);
  }
  return { version: 1, artifacts };
}
