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
  /** The sha256 the Hub declares (LFS files only). */
  declaredSha256: string | undefined;
  /** The file's resolve URL on the Hub origin, by commit. */
  url: string;
}

/** Size and checksums of a file at a commit (`paths-info`), before anything is downloaded. */
export async function lookupFile(
  hub: HubConnection,
  params: { repo: string; commit: string; file: string; pinnedSha256?: string | undefined; ggufFiles: string[] },
  artifact: ArtifactRef,
): Promise<RemoteFile> {
  const entries = await pathsInfo({
    ...hub.common,
    repo: params.repo,
    revision: params.commit,
    paths: [params.file],
  }).catch((error: unknown) => {
    throw asHubError(error, artifact);
  });
  const entry = entries.find((e) => e.path === params.file && e.type === "file");
  if (!entry) throw new EntryNotFoundError(artifact, params.ggufFiles);
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
  if (lfsSha256 && params.pinnedSha256 && lfsSha256 !== params.pinnedSha256) {
    throw new UnexpectedHubResponseError(
      artifact,
      `the Hub declares sha256 ${lfsSha256} but MODEL_SHA256 pins ${params.pinnedSha256}`,
    );
  }
  const pinned = params.pinnedSha256 ? [params.pinnedSha256] : [];
  const path = params.file.split("/").map(encodeURIComponent).join("/");
  return {
    etag,
    expected: lfsSha256
      ? { size: entry.lfs?.size ?? entry.size, sha256: [lfsSha256, ...pinned] }
      : { size: entry.size, sha256: pinned, gitOid: etag },
    declaredSha256: lfsSha256,
    url: `${hub.hubUrl}/${params.repo}/resolve/${params.commit}/${path}`,
  };
}
