import { pathsInfo } from "@huggingface/hub";
import { EntryNotFoundError, UnexpectedHubResponseError, type ArtifactRef } from "../errors.ts";
import type { HubConnection } from "./connect-hub.ts";
import { asHubError } from "./map-hub-response.ts";
import { GIT_OID_HEX, SHA256_HEX } from "./oids.ts";

export interface RemoteFile {
  /** The blob's name in the cache: the LFS sha256, or the git sha1 of a small file. */
  etag: string;
  /** Size, the LFS sha256 and MODEL_SHA256 (both must hold), or the git sha1 of a small file. */
  expected: { size: number; sha256: string[]; gitOid?: string };
  /** The sha256 the Hub declares (LFS files only, Xet-stored ones included: their `lfs.oid` is still the sha256). */
  declaredSha256: string | undefined;
  /** The file's resolve URL on the Hub origin, by commit. */
  url: string;
}

export interface FileLookup {
  file: string;
  /** MODEL_SHA256, when the user pins the content. */
  pinnedSha256?: string | undefined;
}

/**
 * Size and checksums of files at a commit, before anything is downloaded: one `paths-info` request for all of them
 * (the Hub's API quota counts requests, not paths). A path the Hub does not list is absent from the result; a
 * listed one with a malformed oid, or a declared sha256 other than the pinned one, throws (for its own artifact).
 */
export async function lookupFiles(
  hub: HubConnection,
  params: { repo: string; commit: string; files: readonly FileLookup[] },
  artifactOf: (file: string) => ArtifactRef,
): Promise<Map<string, RemoteFile>> {
  const found = new Map<string, RemoteFile>();
  if (params.files.length === 0) return found;
  const entries = await pathsInfo({
    ...hub.common,
    repo: params.repo,
    revision: params.commit,
    paths: params.files.map((f) => f.file),
  }).catch((error: unknown) => {
    throw asHubError(error, artifactOf(params.files[0]!.file));
  });
  for (const request of params.files) {
    const entry = entries.find((e) => e.path === request.file && e.type === "file");
    if (entry) found.set(request.file, remoteFileOf(hub, params, request, entry, artifactOf(request.file)));
  }
  return found;
}

/** One file (see lookupFiles); EntryNotFoundError, naming the repo's .gguf files, when the Hub does not list it. */
export async function lookupFile(
  hub: HubConnection,
  params: { repo: string; commit: string; file: string; pinnedSha256?: string | undefined; ggufFiles: string[] },
  artifact: ArtifactRef,
): Promise<RemoteFile> {
  const found = await lookupFiles(hub, { repo: params.repo, commit: params.commit, files: [params] }, () => artifact);
  const remote = found.get(params.file);
  if (!remote) throw new EntryNotFoundError(artifact, params.ggufFiles);
  return remote;
}

function remoteFileOf(
  hub: HubConnection,
  params: { repo: string; commit: string },
  request: FileLookup,
  entry: { oid?: string | undefined; size: number; lfs?: { oid: string; size: number } | undefined },
  artifact: ArtifactRef,
): RemoteFile {
  const lfsSha256 = entry.lfs?.oid;
  const etag = lfsSha256 ?? entry.oid;
  if (!etag) throw new UnexpectedHubResponseError(artifact, "the file has no oid");
  // The oid becomes a file name in the cache: only the shapes the Hub uses are accepted (a hostile or intercepted
  // endpoint must not name a path of its choosing).
  if (lfsSha256 !== undefined ? !SHA256_HEX.test(lfsSha256) : !GIT_OID_HEX.test(etag)) {
    throw new UnexpectedHubResponseError(
      artifact,
      "the Hub gave a malformed oid for the file (expected 64 or 40 hex characters)",
    );
  }
  const pinnedSha256 = request.pinnedSha256;
  if (lfsSha256 && pinnedSha256 && lfsSha256 !== pinnedSha256) {
    throw new UnexpectedHubResponseError(
      artifact,
      `the Hub declares sha256 ${lfsSha256} but MODEL_SHA256 pins ${pinnedSha256}`,
    );
  }
  const pinned = pinnedSha256 ? [pinnedSha256] : [];
  const path = request.file.split("/").map(encodeURIComponent).join("/");
  return {
    etag,
    expected: lfsSha256
      ? { size: entry.lfs?.size ?? entry.size, sha256: [lfsSha256, ...pinned] }
      : { size: entry.size, sha256: pinned, gitOid: etag },
    declaredSha256: lfsSha256,
    url: `${hub.hubUrl}/${params.repo}/resolve/${params.commit}/${path}`,
  };
}
