import type { InferenceConfig } from "@slm/config";
import { cacheLayout } from "./cache-layout.ts";
import { cacheFile } from "./cache-file.ts";
import { configuredArtifacts } from "./configured-artifacts.ts";
import { connectHub } from "./connect-hub.ts";
import type { ArtifactRef } from "./errors.ts";
import type { EventSink } from "./events.ts";
import { checkLicense } from "./license-policy.ts";
import type { LockedArtifact, Lockfile } from "./lockfile.ts";
import { lookupFile } from "./lookup-file.ts";
import { readToken } from "./read-token.ts";
import { resolveRevision } from "./resolve-revision.ts";

export interface LockModelsHooks {
  onProgress?: (progress: { downloadedBytes: number; totalBytes: number }) => void;
  onEvent?: EventSink;
  fetch?: typeof fetch;
}

/**
 * What `pnpm models:lock` writes: each configured artifact resolved on the Hub (never from the cache, never against
 * an existing lockfile) to its commit, size, sha256 and licence. LFS files are described by the Hub, so nothing is
 * downloaded; a small (non-LFS) file has no declared sha256 and is downloaded and hashed. The licence policy
 * applies to the Hub's licence here (the GGUF's own is checked when the file is pulled).
 */
export async function lockModels(config: InferenceConfig, hooks: LockModelsHooks = {}): Promise<Lockfile> {
  const { hub, supplyChain } = config;
  const accessToken = await readToken(hub);
  const artifacts: LockedArtifact[] = [];
  for (const spec of configuredArtifacts(config.model)) {
    const artifact: ArtifactRef = { repo: spec.repo, revision: spec.revision, file: spec.file };
    const connection = connectHub({ hubUrl: hub.endpoint, accessToken, retry: supplyChain.retry, artifact, ...hooks });
    const remote = await resolveRevision(connection, spec.repo, spec.revision, artifact);
    if (remote.kind === "branch") {
      hooks.onEvent?.({ level: "warn", msg: "locking a branch: the lockfile pins its current commit", fields: { revision: spec.revision, commit: remote.commit } });
    }
    const license = checkLicense({ hub: remote.license, gguf: undefined }, supplyChain.licensesAllowed, artifact);
    const file = await lookupFile(
      connection,
      { repo: spec.repo, commit: remote.commit, file: spec.file, pinnedSha256: spec.sha256, ggufFiles: remote.ggufFiles },
      artifact,
    );
    const sha256 =
      file.declaredSha256 ??
      (
        await cacheFile({
          layout: cacheLayout(hub.cacheDir, spec.repo),
          commit: remote.commit,
          file: spec.file,
          etag: file.etag,
          expected: file.expected,
          url: file.url,
          fetch: connection.fetch,
          authorization: connection.authorization,
          retry: supplyChain.retry,
          reverify: supplyChain.reverify,
          artifact,
          ...hooks,
        })
      ).sha256;
    artifacts.push({
      role: spec.role,
      ...(spec.adapter ? { adapter: spec.adapter } : {}),
      repo: spec.repo,
      revision: spec.revision,
      commit: remote.commit,
      file: spec.file,
      size: file.expected.size,
      sha256,
      license: license ?? null,
    });
  }
  return { version: 1, artifacts };
}
