/**
 * Download benchmark: a 200 MiB LFS file from the fake Hub (its CDN origin on loopback), fetched in the same run by
 * the service's code (bench/download/pull-once.ts, a child process) and by `curl -L` on the same resolve URL, both
 * writing to the same file system, alternating, several rounds; then the resume saving after a connection reset at
 * 50%, and the cost of a restart's rehash against the verified marker.
 *
 *   pnpm bench:download            (ROUNDS=5 SIZE_MIB=200 to change)
 */
import { execFile } from "node:child_process";
import { randomBytes, createHash } from "node:crypto";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { startFakeHub } from "@slm/testkit";

const run = promisify(execFile);
const root = fileURLToPath(new URL("../..", import.meta.url));
const SIZE = Number(process.env.SIZE_MIB ?? 200) * 1024 * 1024;
const ROUNDS = Number(process.env.ROUNDS ?? 5);
const REPO = "bench/big";
const FILE = "big.gguf";

interface PullResult {
  ms: number;
  size: number;
  sha256: string;
  fetchedBytes: number;
  resumes: number[];
  rehashMs: number;
  markerMs: number;
}

const content = randomBytes(SIZE);
const sha256 = createHash("sha256").update(content).digest("hex");
const hub = await startFakeHub({ cdnCacheHeader: false });
const commit = hub.addRepo({ id: REPO, files: { [FILE]: content } });
const resolveUrl = `${hub.url}/${REPO}/resolve/${commit}/${FILE}`;
const work = await mkdtemp(join(tmpdir(), "bench-download-"));
const mibps = (bytes: number, ms: number) => bytes / (1024 * 1024) / (ms / 1000);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

async function ours(label: string): Promise<PullResult> {
  const cacheDir = join(work, `cache-${label}`);
  const { stdout } = await run(
    "node",
    ["--import", "tsx", "bench/download/pull-once.ts", hub.url, REPO, commit, FILE, cacheDir],
    {
      cwd: root,
      maxBuffer: 1 << 20,
    },
  );
  const result = JSON.parse(stdout.trim().split("\n").at(-1) ?? "{}") as PullResult;
  if (result.sha256 !== sha256) throw new Error("our download produced another sha256");
  await rm(cacheDir, { recursive: true, force: true });
  return result;
}

/** curl alone, and curl followed by `sha256sum` (what a careful script does to get a verified file). */
async function curl(label: string): Promise<{ ms: number; withSha256sumMs: number }> {
  const out = join(work, `curl-${label}`);
  const started = performance.now();
  await run("curl", ["-sS", "-L", "-o", out, resolveUrl]);
  const ms = performance.now() - started;
  const { stdout } = await run("sha256sum", [out]);
  const withSha256sumMs = performance.now() - started;
  if ((await stat(out)).size !== SIZE || !stdout.startsWith(sha256)) throw new Error("curl fetched something else");
  await rm(out, { force: true });
  return { ms, withSha256sumMs };
}

try {
  await ours("warm-up");
  await curl("warm-up");
  const oursMs: number[] = [];
  const curlMs: number[] = [];
  const curlShaMs: number[] = [];
  const rehash: number[] = [];
  const marker: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const a = await ours(String(i));
    oursMs.push(a.ms);
    rehash.push(a.rehashMs);
    marker.push(a.markerMs);
    const c = await curl(String(i));
    curlMs.push(c.ms);
    curlShaMs.push(c.withSha256sumMs);
  }

  hub.resetLog();
  hub.faults.set({ kind: "resetMidBody", where: "cdn", afterBytes: SIZE / 2 });
  const resumed = await ours("resume");
  const sent = hub.cdnBytesSent;
  const resent = sent - SIZE;
  const restartWouldResend = SIZE / 2; // a client that starts over re-sends everything it had received

  const o = median(oursMs);
  const c = median(curlMs);
  const cs = median(curlShaMs);
  const mib = (b: number) => `${(b / (1024 * 1024)).toFixed(1)} MiB`;
  console.log(`file: ${mib(SIZE)} from the fake Hub's CDN origin (loopback), ${ROUNDS} rounds, medians`);
  console.log(
    `ours (resolveModelFile, incl. API calls, inline sha256, fsync): ${o.toFixed(0)} ms = ${mibps(SIZE, o).toFixed(0)} MiB/s`,
  );
  console.log(
    `curl -L same URL to a file:                                   ${c.toFixed(0)} ms = ${mibps(SIZE, c).toFixed(0)} MiB/s`,
  );
  console.log(
    `curl -L then sha256sum (a verified file):                     ${cs.toFixed(0)} ms = ${mibps(SIZE, cs).toFixed(0)} MiB/s`,
  );
  console.log(`throughput ratio ours/curl: ${(c / o).toFixed(2)}; ours/(curl + sha256sum): ${(cs / o).toFixed(2)}`);
  console.log(
    `resume after a reset at 50%: CDN sent ${mib(sent)} in all, ${mib(resent)} of it twice ` +
      `(starting over would re-send ${mib(restartWouldResend)}); saved ${mib(restartWouldResend - resent)}; ` +
      `resumed at byte ${resumed.resumes.join(", ")}, ${resumed.ms.toFixed(0)} ms`,
  );
  console.log(
    `restart check of the cached blob: full rehash ${median(rehash).toFixed(0)} ms (${mibps(SIZE, median(rehash)).toFixed(0)} MiB/s, ` +
      `~${(((median(rehash) / SIZE) * 1024 ** 3) / 1000).toFixed(2)} s per GiB, page cache warm) vs verified marker ${median(marker).toFixed(1)} ms`,
  );
  console.log(
    JSON.stringify({
      sizeBytes: SIZE,
      rounds: ROUNDS,
      oursMs,
      curlMs,
      curlShaMs,
      ratio: c / o,
      ratioVerified: cs / o,
      resumeSentBytes: sent,
      resumeResentBytes: resent,
      rehashMs: rehash,
      markerMs: marker,
    }),
  );
} finally {
  await hub.close();
  await rm(work, { recursive: true, force: true });
}
