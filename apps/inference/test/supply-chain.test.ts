import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { generateTinyLlama, jsonLine, startFakeHub, type FakeHub } from "@slm/testkit";
import { failInference, startInference } from "./start-inference.ts";

/**
 * The supply chain as users run it: `pnpm models:pull` / `models:lock` and the inference service as real processes
 * against the fake Hub. Each test asserts what it leaves in the cache.
 */
const appDir = fileURLToPath(new URL("..", import.meta.url));
const TOKEN = "hf_supplychaintest00000";
const model = Buffer.from(generateTinyLlama({ seed: 5 }));
const sha256 = createHash("sha256").update(model).digest("hex");

let hub: FakeHub;
let commit: string;
let work: string;
let testDir: string;

beforeAll(async () => {
  hub = await startFakeHub();
  commit = hub.addRepo({ id: "acme/tiny", license: "apache-2.0", files: { "tiny.gguf": model } });
  hub.tag("acme/tiny", "v1", commit);
  hub.addRepo({ id: "acme/secret", private: true, files: { "tiny.gguf": model } });
  hub.addToken(TOKEN, { canRead: ["acme/secret"] });
  work = await mkdtemp(join(tmpdir(), "supply-chain-"));
});
afterAll(async () => {
  await hub.close();
  await rm(work, { recursive: true, force: true });
});
let counter = 0;
beforeEach(async () => {
  hub.faults.clear();
  hub.resetLog();
  testDir = join(work, String(++counter));
  await mkdir(testDir);
});

/** What every process of a test shares: its own cache, HF home and lockfile path, fast retries. */
const env = (overrides: Record<string, string> = {}): Record<string, string> => ({
  HF_ENDPOINT: hub.url,
  HF_HOME: join(testDir, "hf-home"),
  MODEL_CACHE_DIR: join(testDir, "cache"),
  MODEL_LOCKFILE: join(testDir, "models.lock.json"),
  MODEL_ID: "acme/tiny",
  MODEL_VERSION: "v1",
  MODEL_FILE: "tiny.gguf",
  CONTEXT_SIZE: "256",
  HUB_RETRY_BASE_MS: "5",
  ...overrides,
});

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `node --import tsx src/cli/<command>.ts` as `pnpm models:*` does; stdout and stderr kept apart. */
function runCli(command: "models-pull" | "models-lock", vars: Record<string, string>): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn("node", ["--import", "tsx", `src/cli/${command}.ts`], {
      cwd: appDir,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...vars },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.once("error", reject);
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const repoDir = (repo = "acme/tiny") => join(testDir, "cache", `models--${repo.replace("/", "--")}`);
const blobs = async (repo?: string) => readdir(join(repoDir(repo), "blobs")).catch(() => [] as string[]);
const locks = async (repo = "acme/tiny") =>
  (
    await readdir(join(testDir, "cache", ".locks", `models--${repo.replace("/", "--")}`)).catch(() => [] as string[])
  ).filter((f) => f.endsWith(".lock"));
const cdnGets = () => hub.requests.filter((r) => r.origin === "cdn" && r.method === "GET");

describe("pnpm models:pull", { timeout: 60_000 }, () => {
  it("downloads and verifies without loading, with plain progress lines off a terminal", async () => {
    const run = await runCli("models-pull", env());
    expect(run.code).toBe(0);
    expect(run.stderr).toMatch(/^downloading tiny\.gguf: 100% \(1\.0 of 1\.0 MB\)$/m);
    expect(run.stdout).toContain(
      `pulled acme/tiny tiny.gguf revision v1 -> commit ${commit}: ${model.length} bytes, sha256 ${sha256}, license apache-2.0, from download`,
    );
    expect(await blobs()).toEqual([sha256]);
    expect(await locks()).toEqual([]);
  });

  it("two processes starting at once on an empty cache: one download, both succeed", async () => {
    // The first body is held back, so the second process surely arrives while the first is downloading.
    hub.faults.set({ kind: "slowBody", where: "cdn", delayMs: 2_500 });
    const [a, b] = await Promise.all([runCli("models-pull", env()), runCli("models-pull", env())]);
    expect([a.code, b.code]).toEqual([0, 0]);
    const sources = [a, b].map((r) => /from (download|cache)$/m.exec(r.stdout)?.[1]).sort();
    expect(sources).toEqual(["cache", "download"]);
    expect(
      [a, b].filter((r) => r.stderr.includes("another process is downloading this file; waiting for it")),
    ).toHaveLength(1);
    expect(cdnGets()).toHaveLength(1);
    expect(hub.cdnBytesSent).toBe(model.length);
    expect(await blobs()).toEqual([sha256]);
    expect(await locks()).toEqual([]);
  });

  it("resumes after a connection reset mid-body and says so", async () => {
    hub.faults.set({ kind: "resetMidBody", where: "cdn", afterBytes: 600_000 });
    const run = await runCli("models-pull", env());
    expect(run.code).toBe(0);
    expect(run.stderr).toMatch(
      /^warn: download interrupted \(connection reset, from the download host 127\.0\.0\.1:\d+\); resuming from byte \d+ of \d+/m,
    );
    expect(cdnGets().map((r) => r.headers.range)).toEqual(["bytes=0-", expect.stringMatching(/^bytes=\d+-$/)]);
    expect(hub.cdnBytesSent - model.length).toBeLessThan(model.length);
    expect(await blobs()).toEqual([sha256]);
  });

  it("resumes a body that stalls for HF_HUB_DOWNLOAD_TIMEOUT instead of waiting for it, and says so", async () => {
    hub.faults.set({ kind: "stallBody", where: "cdn", afterBytes: 600_000 });
    const run = await runCli(
      "models-pull",
      env({ HF_HUB_DOWNLOAD_TIMEOUT: "0.3", HF_HUB_DISABLE_XET: "1", HF_XET_HIGH_PERFORMANCE: "1" }),
    );
    expect(run.code).toBe(0);
    // HF_HUB_DISABLE_XET is accepted (we never use Xet); HF_XET_* is said to be ignored, not silently dropped.
    expect(run.stderr).toMatch(/^warn: HF_XET_HIGH_PERFORMANCE is set but ignored: it configures the Xet protocol/m);
    expect(run.stderr).not.toContain("HF_HUB_DISABLE_XET");
    expect(run.stderr).toMatch(
      /^warn: download interrupted \(no data for 0\.3 s, HF_HUB_DOWNLOAD_TIMEOUT, from the download host 127\.0\.0\.1:\d+\); resuming from byte \d+ of \d+/m,
    );
    expect(cdnGets()).toHaveLength(2);
    expect(await blobs()).toEqual([sha256]);
  });

  it("starts a cached model while the Hub rate-limits paths-info (429 with RateLimit, no Retry-After)", async () => {
    expect((await runCli("models-pull", env())).code).toBe(0);
    hub.resetLog();
    hub.faults.set({ kind: "rateLimit", route: "paths-info", retryAfterSeconds: 300, times: Number.POSITIVE_INFINITY });
    const run = await runCli("models-pull", env());
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/from cache$/m);
    expect(hub.requests.every((r) => r.headers["user-agent"]?.startsWith("slm-serve/"))).toBe(true);
    // With nothing cached, the one line says how long to wait.
    const empty = await runCli("models-pull", env({ MODEL_CACHE_DIR: join(testDir, "empty-cache") }));
    expect(empty.code).toBe(1);
    expect(empty.stderr).toMatch(
      /^models:pull failed \[rate_limited\]: the Hub at 127\.0\.0\.1:\d+ is rate limiting requests; retry after 300s \(repo acme\/tiny, revision v1, file tiny\.gguf\)/m,
    );
  });

  it("keeps the token off the CDN and out of every line it prints", async () => {
    const run = await runCli("models-pull", env({ MODEL_ID: "acme/secret", MODEL_VERSION: "main", HF_TOKEN: TOKEN }));
    expect(run.code).toBe(0);
    const cdn = hub.requests.filter((r) => r.origin === "cdn");
    expect(cdn.length).toBeGreaterThan(0);
    expect(cdn.every((r) => r.headers.authorization === undefined)).toBe(true);
    expect(`${run.stdout}${run.stderr}`).not.toContain(TOKEN);
    expect(run.stderr).toMatch(/warn: MODEL_VERSION is a branch \(floating\)/);
    expect(await blobs("acme/secret")).toEqual([sha256]);
  });

  it("exits 1 with one line when the Hub is down and nothing is cached, and uses the cache once there is one", async () => {
    await hub.down();
    try {
      const run = await runCli("models-pull", env({ HUB_RETRIES: "0" }));
      expect(run.code).toBe(1);
      expect(run.stderr.trim()).toBe(
        `models:pull failed [hub_unavailable]: the Hub at 127.0.0.1:${hub.port} is unreachable (connection refused) and nothing is cached for this revision ` +
          "(repo acme/tiny, revision v1, file tiny.gguf). To run without reaching the Hub: point HF_ENDPOINT at a mirror you " +
          "can reach; or run `pnpm models:pull` where the Hub is reachable and start with HF_HUB_OFFLINE=1 and the same " +
          "cache (HF_HOME); or try the whole stack offline with `pnpm demo`",
      );
      expect(await blobs()).toEqual([]);
    } finally {
      await hub.up();
    }
    expect((await runCli("models-pull", env())).code).toBe(0);
    await hub.down();
    try {
      const run = await runCli("models-pull", env({ HUB_RETRIES: "0" }));
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(/from cache$/m);
      expect(run.stderr).toMatch(
        /Hub not usable, using the cached commit: the Hub at 127\.0\.0\.1:\d+ is unreachable \(connection refused\)/,
      );
      expect(await blobs()).toEqual([sha256]);
    } finally {
      await hub.up();
    }
  });
});

describe("pnpm models:lock and startup", { timeout: 90_000 }, () => {
  it("writes the lockfile; inference refuses to start once the tag moved, and nothing is cached", async () => {
    hub.tag("acme/tiny", "release", commit);
    const locked = await runCli("models-lock", env({ MODEL_VERSION: "release" }));
    expect(locked.code).toBe(0);
    expect(locked.stdout).toContain(`wrote ${join(testDir, "models.lock.json")}`);
    expect(JSON.parse(await readFile(join(testDir, "models.lock.json"), "utf8"))).toEqual({
      version: 1,
      artifacts: [
        {
          role: "model",
          repo: "acme/tiny",
          revision: "release",
          commit,
          file: "tiny.gguf",
          size: model.length,
          sha256,
          license: "apache-2.0",
        },
      ],
    });
    const moved = hub.commit("acme/tiny", { "CHANGELOG.md": "moved" });
    hub.tag("acme/tiny", "release", moved);
    try {
      const { code, lines } = await failInference(env({ MODEL_VERSION: "release" }));
      expect(code).toBe(1);
      const fatal = lines.map(jsonLine).filter((j) => j?.level === 60);
      expect(fatal).toHaveLength(1);
      expect(fatal[0]?.code).toBe("locked_revision_moved");
      expect(String(fatal[0]?.msg)).toMatch(
        new RegExp(
          `revision now points to commit ${moved} but .*models\\.lock\\.json pins ${commit}.*\\(repo acme/tiny, revision release, file tiny\\.gguf\\)`,
        ),
      );
      expect(await blobs()).toEqual([]);
    } finally {
      hub.tag("acme/tiny", "release", commit);
    }
  });

  it("refuses a branch in production before downloading", async () => {
    const { code, lines } = await failInference(env({ NODE_ENV: "production", MODEL_VERSION: "main" }));
    expect(code).toBe(1);
    const fatal = lines.map(jsonLine).find((j) => j?.level === 60);
    expect(fatal?.code).toBe("floating_revision");
    expect(String(fatal?.msg)).toMatch(/names a branch.*\(repo acme\/tiny, revision main, file tiny\.gguf\)/);
    expect(cdnGets()).toEqual([]);
    expect(await blobs()).toEqual([]);
  });

  it("pulled ahead of time, starts with HF_HUB_OFFLINE=1 and sends no request", async () => {
    expect((await runCli("models-pull", env())).code).toBe(0);
    hub.resetLog();
    const inference = await startInference(env({ HF_HUB_OFFLINE: "1", MODEL_LICENSES_ALLOWED: "apache-2.0" }));
    try {
      const verified = inference.service.lines.map(jsonLine).find((j) => j?.msg === "model verified");
      expect(verified).toMatchObject({ commit, sha256, source: "offline-cache" });
      expect(hub.requests).toEqual([]);
    } finally {
      await inference.service.stop();
    }
    expect(await blobs()).toEqual([sha256]);
  });
});
