import { modelInfo } from "@huggingface/hub";
import { UnexpectedHubResponseError, type ArtifactRef } from "../errors.ts";
import type { HubConnection } from "./connect-hub.ts";
import { asHubError } from "./map-hub-response.ts";
import { COMMIT_HASH } from "./oids.ts";

/** A commit is fixed; a tag is meant to be (but can be moved); a branch (any other name) floats. */
export type RevisionKind = "commit" | "tag" | "branch";

export interface RemoteRevision {
  commit: string;
  kind: RevisionKind;
  /** `cardData.license`, else a `license:<id>` tag. */
  license: string | undefined;
  /** The repo's .gguf files at that commit, to name them when MODEL_FILE is wrong. */
  ggufFiles: string[];
  /** Every file path of the repo at that commit (to tell a GGUF repo from a transformers one). */
  files: string[];
  /** The model card's `base_model` (what an adapter or fine-tune declares it was trained on), the first if a list. */
  cardBaseModel: string | undefined;
}

/**
 * Resolves a revision to its commit (model info) and tells a tag from a branch (the refs API lists tags), in parallel.
 */
export async function resolveRevision(
  hub: HubConnection,
  repo: string,
  revision: string,
  artifact: ArtifactRef,
): Promise<RemoteRevision> {
  try {
    const [info, tags] = await Promise.all([
      modelInfo({ ...hub.common, name: repo, revision, additionalFields: ["sha", "cardData", "tags", "filePaths"] }),
      COMMIT_HASH.test(revision) ? Promise.resolve(undefined) : listTags(hub, repo, artifact),
    ]);
    const commit = info.sha;
    if (typeof commit !== "string" || !COMMIT_HASH.test(commit)) {
      throw new UnexpectedHubResponseError(artifact, "no commit sha for the revision");
    }
    return {
      commit,
      kind: tags === undefined ? "commit" : tags.has(revision) ? "tag" : "branch",
      license: licenseOf(info),
      ggufFiles: (info.filePaths ?? []).filter((p) => p.endsWith(".gguf")),
      files: info.filePaths ?? [],
      cardBaseModel: baseModelOf(info),
    };
  } catch (error) {
    throw asHubError(error, artifact);
  }
}

/** `GET /api/models/{repo}/refs`: the tag names (@huggingface/hub has no call for it). */
async function listTags(hub: HubConnection, repo: string, artifact: ArtifactRef): Promise<Set<string>> {
  const response = await hub.fetch(`${hub.hubUrl}/api/models/${repo}/refs`, {
    headers: hub.authorization ? { authorization: hub.authorization } : {},
  });
  const body = (await response.json().catch(() => undefined)) as { tags?: Array<{ name?: unknown }> } | undefined;
  if (!body || !Array.isArray(body.tags)) throw new UnexpectedHubResponseError(artifact, "the refs list has no tags");
  return new Set(body.tags.map((t) => t.name).filter((n): n is string => typeof n === "string"));
}

function licenseOf(info: { cardData?: unknown; tags?: unknown }): string | undefined {
  const card = info.cardData as { license?: unknown } | undefined;
  if (typeof card?.license === "string") return card.license;
  const tags = Array.isArray(info.tags) ? (info.tags as unknown[]) : [];
  const tag = tags.find((t): t is string => typeof t === "string" && t.startsWith("license:"));
  return tag?.slice("license:".length);
}

function baseModelOf(info: { cardData?: unknown }): string | undefined {
  const base = (info.cardData as { base_model?: unknown } | undefined)?.base_model;
  const first = Array.isArray(base) ? (base as unknown[])[0] : base;
  return typeof first === "string" ? first : undefined;
}
