import type { ServerResponse } from "node:http";
import { sendGatedRepo, sendInvalidCredentials, sendRepoDisabled, sendRepoNotFound } from "./errors.ts";
import type { FakeRepo } from "./repo-store.ts";
import type { HubState } from "./state.ts";
import { canRead, isGatedApproved, type Credentials } from "./tokens.ts";

/**
 * Checks that the caller may see a repo (and, with `files`, download its files).
 * Gating only applies to file downloads: like the real Hub, a gated repo's metadata, tree and
 * paths-info stay public. A token the Hub does not know is refused (401) even for public repos. A disabled repo
 * refuses everyone (403, `X-Error-Message` only).
 * On refusal the error reply is sent and undefined returned.
 */
export function authorizeRepo(
  state: HubState,
  res: ServerResponse,
  credentials: Credentials,
  repoId: string,
  options: { files: boolean },
): FakeRepo | undefined {
  if (credentials.kind === "invalid") {
    sendInvalidCredentials(res);
    return undefined;
  }
  const token = credentials.kind === "token" ? credentials.token : undefined;
  const repo = state.repos.get(repoId);
  if (!repo || (repo.private && !(token && canRead(token, repoId)))) {
    sendRepoNotFound(res, token ? 404 : 401);
    return undefined;
  }
  if (repo.disabled) {
    sendRepoDisabled(res);
    return undefined;
  }
  if (options.files && repo.gated !== false) {
    if (!token) {
      sendGatedRepo(res, repoId, 401, state.hubUrl());
      return undefined;
    }
    if (!isGatedApproved(token, repoId)) {
      sendGatedRepo(res, repoId, 403, state.hubUrl());
      return undefined;
    }
  }
  return repo;
}
