import type { FakeRepo, StoredCommit } from "./repo-store.ts";

export interface SplitRevision {
  /** The revision as named in the request. */
  revision: string;
  commit: StoredCommit | undefined;
  /** Segments after the revision (a directory or file path). */
  rest: string[];
}

/**
 * Splits `{rev}/{path...}` segments. The revision is usually one (percent-decoded) segment, e.g.
 * `refs%2Fpr%2F1`; when it is sent unencoded (`refs/pr/1`, as the tree route does) the longest
 * prefix naming a revision wins. `minRest` is how many segments must remain for the path.
 */
export function splitRevision(repo: FakeRepo | undefined, segments: string[], minRest: number): SplitRevision {
  const first = segments[0] ?? "";
  const single = repo?.resolveRevision(first);
  if (single || !repo) {
    return { revision: first, commit: single, rest: segments.slice(1) };
  }
  for (let k = segments.length - minRest; k >= 2; k--) {
    const candidate = segments.slice(0, k).join("/");
    const commit = repo.resolveRevision(candidate);
    if (commit) {
      return { revision: candidate, commit, rest: segments.slice(k) };
    }
  }
  return { revision: first, commit: undefined, rest: segments.slice(1) };
}
