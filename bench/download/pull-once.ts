/**
 * One download through the service's own code path (resolveModelFile: revision -> commit, paths-info, download
 * with inline sha256, fsync, rename, verified marker, snapshot link), run as its own process by run.ts so it
 * competes with curl on equal terms, then two offline restarts (rehash, verified marker). Prints one JSON line.
 * Args: <hubUrl> <repo> <commit> <file> <cacheDir>.
 */
import { createHubSession, resolveModelFile } from "@slm/inference/hub";

const [hubUrl = "", repo = "", commit = "", file = "", cacheDir = ""] = process.argv.slice(2);
const resumes: number[] = [];
const session = createHubSession({
  hubUrl,
  cacheDir,
  retry: { retries: 4, baseDelayMs: 10, maxWaitMs: 1_000 },
  onEvent: (e) => {
    if (typeof e.fields.offset === "number" && /resuming/.test(e.msg)) resumes.push(e.fields.offset);
  },
});
const started = performance.now();
const resolved = await resolveModelFile({ session, repo, revision: commit, file });
const ms = performance.now() - started;

// What a restart costs: an offline start that rehashes the blob (MODEL_REVERIFY=1, page cache warm) against one that
// trusts the verified marker.
const restart = (reverify: boolean) =>
  resolveModelFile({ session: { ...session, offline: true, reverify }, repo, revision: commit, file });
const t0 = performance.now();
await restart(true);
const rehashMs = performance.now() - t0;
const t1 = performance.now();
await restart(false);
const markerMs = performance.now() - t1;

console.log(
  JSON.stringify({
    ms,
    size: resolved.size,
    sha256: resolved.sha256,
    fetchedBytes: resolved.fetchedBytes,
    resumes,
    rehashMs,
    markerMs,
  }),
);
