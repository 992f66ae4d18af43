/**
 * One download through the service's own code path (resolveModelFile: revision -> commit, paths-info, download
 * with inline sha256, fsync, rename, verified marker, snapshot link), run as its own process by run.ts so it
 * competes with curl on equal terms. Prints one JSON line. Args: <hubUrl> <repo> <commit> <file> <cacheDir>.
 */
import { resolveModelFile } from "../../apps/inference/src/hub/resolve-model-file.ts";
import { verifyCachedFile } from "../../apps/inference/src/hub/verify-cached-file.ts";
import { cacheLayout } from "../../apps/inference/src/hub/cache-layout.ts";

const [hubUrl = "", repo = "", commit = "", file = "", cacheDir = ""] = process.argv.slice(2);
const resumes: number[] = [];
const started = performance.now();
const resolved = await resolveModelFile({
  repo,
  revision: commit,
  file,
  hubUrl,
  cacheDir,
  offline: false,
  retry: { retries: 4, baseDelayMs: 10, maxWaitMs: 1_000 },
  onEvent: (e) => {
    if (typeof e.fields.offset === "number" && /resuming/.test(e.msg)) resumes.push(e.fields.offset);
  },
});
const ms = performance.now() - started;

// What a restart costs: a full rehash (page cache warm) against trusting the verified marker.
const layout = cacheLayout(cacheDir, repo);
const artifact = { repo, revision: commit, file };
const t0 = performance.now();
await verifyCachedFile(resolved.path, {}, artifact, { markerFor: layout.markerPath, rehash: true });
const rehashMs = performance.now() - t0;
const t1 = performance.now();
const marked = await verifyCachedFile(resolved.path, {}, artifact, { markerFor: layout.markerPath });
const markerMs = performance.now() - t1;

console.log(
  JSON.stringify({ ms, size: resolved.size, sha256: resolved.sha256, fetchedBytes: resolved.fetchedBytes, resumes, rehashMs, markerMs, trusted: marked.trustedMarker }),
);
