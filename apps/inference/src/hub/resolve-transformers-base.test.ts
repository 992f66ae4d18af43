// A transformers base (MODEL_TYPE=lora, BASE_MODEL_FILE unset) through the supply chain, against the fake Hub: listed
// at a pinned commit, its format decided, the index fetched before the shards, every file verified and locked with
// role base_file; refusals (not a model, a GGUF repo, licence, declared base) happen before the weights download.
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readInferenceEnv } from "@slm/config";
import {
  generatePeftAdapter,
  generateTinyLlama,
  generateTransformersModel,
  readDirFiles,
  startFakeHub,
  type FakeHub,
} from "@slm/testkit";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { BaseModelMismatchError, LicenseMismatchError } from "../lora/index.ts";
import {
  BaseFileRequiredError,
  FloatingRevisionError,
  LockedRevisionMovedError,
  NotAModelRepoError,
  NotCachedError,
} from "./errors.ts";
import { lockModels } from "./lock-models.ts";
import { writeLockfile } from "./policy/index.ts";
import { resolveModel } from "./resolve-model.ts";

const TINY = { base: { nLayer: 2, nEmbd: 64, nHead: 4, nHeadKv: 2, nFf: 128 }, seed: 5 };

let hub: FakeHub;
let dir: string;
let modelDir: string;
let baseCommit: string;

beforeAll(async () => {
  hub = await startFakeHub();
  modelDir = await mkdtemp(join(tmpdir(), "tf-base-model-"));
  await generateTransformersModel({ architecture: "LlamaForCausalLM", dir: join(modelDir, "one") });
  await generateTransformersModel({ architecture: "LlamaForCausalLM", dir: join(modelDir, "sharded"), shards: 2 });
  baseCommit = hub.addRepo({
    id: "meta/tiny-llama",
    license: "llama3",
    files: { ...(await readDirFiles(join(modelDir, "one"))), "README.md": "# tiny\n" },
  });
  hub.addRepo({ id: "meta/tiny-sharded", license: "llama3", files: await readDirFiles(join(modelDir, "sharded")) });
  hub.addRepo({ id: "acme/dataset-like", files: { "README.md": "# data\n", "train.csv": "a,b\n1,2\n" } });
  hub.addRepo({ id: "acme/gguf-base", files: { "base.gguf": generateTinyLlama({ seed: 1 }) } });
  const adapter = (base: string) => generatePeftAdapter({ ...TINY, baseModelName: base }).files;
  hub.tag(
    "acme/poet",
    "v0.1.0",
    hub.addRepo({ id: "acme/poet", license: "llama3", files: adapter("meta/tiny-llama") }),
  );
  hub.addRepo({ id: "acme/poet-sharded", license: "llama3", files: adapter("meta/tiny-sharded") });
  hub.addRepo({ id: "acme/poet-mit", license: "mit", files: adapter("meta/tiny-llama") });
  hub.addRepo({ id: "acme/poet-foreign", license: "llama3", files: adapter("other/model") });
});
afterAll(async () => {
  await hub.close();
  await rm(modelDir, { recursive: true, force: true });
});
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "tf-base-"));
  hub.resetLog();
});
afterEach(async () => rm(dir, { recursive: true, force: true }));

const config = (env: Record<string, string> = {}) =>
  readInferenceEnv({
    HF_ENDPOINT: hub.url,
    HF_HOME: join(dir, "hf-home"),
    MODEL_CACHE_DIR: join(dir, "cache"),
    MODEL_LOCKFILE: join(dir, "models.lock.json"),
    MODEL_TYPE: "lora",
    LORA_ID: "acme/poet",
    BASE_MODEL: "meta/tiny-llama",
    HUB_RETRY_BASE_MS: "1",
    ...env,
  });
const blobs = (repo: string) =>
  readdir(join(dir, "cache", `models--${repo.replace("/", "--")}`, "blobs")).catch(() => [] as string[]);
const downloads = (repo: string) =>
  hub.requests.filter((r) => r.path.includes(`/${repo}/resolve/`) || (r.origin === "cdn" && r.path.includes(repo)));

describe("a transformers base through the supply chain", () => {
  it("lists the repo at its commit and fetches the converter's files there, each verified, as base_file artifacts", async () => {
    const resolved = await resolveModel(config());
    expect(resolved.model).toBeUndefined();
    const base = resolved.artifacts.filter((a) => a.role === "base_file");
    expect(base.map((a) => a.file).sort()).toEqual([
      "config.json",
      "generation_config.json",
      "model.safetensors",
      "tokenizer.json",
      "tokenizer_config.json",
    ]);
    expect(new Set(base.map((a) => a.commit))).toEqual(new Set([baseCommit]));
    expect(base.every((a) => a.revision === "main" && a.license === "llama3" && /^[0-9a-f]{64}$/.test(a.sha256))).toBe(
      true,
    );
    expect(resolved.transformersBase?.listing).toMatchObject({
      repo: "meta/tiny-llama",
      commit: baseCommit,
      source: "hub",
    });
    // The README was listed, not downloaded; files were fetched by commit, never by the branch name.
    expect(hub.requests.some((r) => r.path.endsWith("/README.md"))).toBe(false);
    expect(
      hub.requests
        .filter((r) => r.path.includes("/meta/tiny-llama/resolve/"))
        .every((r) => r.path.includes(`/resolve/${baseCommit}/`)),
    ).toBe(true);
  });

  it("fetches the safetensors index first, then the shards it names", async () => {
    const resolved = await resolveModel(config({ BASE_MODEL: "meta/tiny-sharded", LORA_ID: "acme/poet-sharded" }));
    const files = resolved.artifacts.filter((a) => a.role === "base_file").map((a) => a.file);
    expect(files[0]).toBe("model.safetensors.index.json");
    expect(files.filter((f) => /^model-\d{5}-of-00002\.safetensors$/.test(f))).toHaveLength(2);
  });

  it("asks the Hub API 3 times per repo (revision, refs, one paths-info), twice once everything is cached", async () => {
    const sharded = config({ BASE_MODEL: "meta/tiny-sharded", LORA_ID: "acme/poet-sharded" });
    await resolveModel(sharded);
    // The base (its index, 2 shards and the rest) and the adapter (config and weights): one paths-info each.
    expect(hub.requestCounts()).toMatchObject({ revision: 2, refs: 2, "paths-info": 2 });
    expect(hub.apiRequestCount()).toBe(6);
    hub.resetLog();
    await resolveModel(sharded);
    expect(hub.apiRequestCount()).toBe(4);
    expect(hub.requestCounts()).toEqual({ revision: 2, refs: 2 });
  });

  it("locks each base file with role base_file; the lock holds the commit when main moves", async () => {
    const lockfile = await lockModels(config());
    expect(
      lockfile.artifacts
        .filter((a) => a.role === "base_file")
        .map((a) => a.file)
        .sort(),
    ).toEqual([
      "config.json",
      "generation_config.json",
      "model.safetensors",
      "tokenizer.json",
      "tokenizer_config.json",
    ]);
    expect(lockfile.artifacts.map((a) => a.role)).toEqual(
      expect.arrayContaining(["adapter_config", "adapter_weights"]),
    );
    await writeLockfile(join(dir, "models.lock.json"), lockfile);
    const locked = await resolveModel(config({ NODE_ENV: "production" })); // a branch, but locked: allowed in production
    expect(locked.transformersBase?.listing.commit).toBe(baseCommit);

    hub.commit("meta/tiny-llama", { "README.md": "# moved\n" });
    try {
      await expect(resolveModel(config())).rejects.toBeInstanceOf(LockedRevisionMovedError);
    } finally {
      hub.branch("meta/tiny-llama", "main", baseCommit);
    }
  });

  it("serves the cached commit offline with no request, from what an online start fetched", async () => {
    await expect(resolveModel(config({ HF_HUB_OFFLINE: "1" }))).rejects.toBeInstanceOf(NotCachedError);
    await resolveModel(config());
    hub.resetLog();
    const offline = await resolveModel(config({ HF_HUB_OFFLINE: "1" }));
    expect(hub.requests).toEqual([]);
    expect(offline.transformersBase?.listing).toMatchObject({ commit: baseCommit, source: "offline-cache" });
    expect(offline.artifacts.filter((a) => a.role === "base_file")).toHaveLength(5);
  });

  it("refuses a base branch in production without a lock, naming BASE_MODEL_VERSION, before downloading it", async () => {
    const error = await resolveModel(config({ NODE_ENV: "production", MODEL_VERSION: "v0.1.0" })).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(FloatingRevisionError);
    expect((error as Error).message).toMatch(
      /^BASE_MODEL_VERSION names a branch.*\(repo meta\/tiny-llama, revision main\)/,
    );
    expect(await blobs("meta/tiny-llama")).toEqual([]);
  });

  it("stops with one line naming the repo when it is not a model, or a GGUF repo without BASE_MODEL_FILE", async () => {
    const notModel = await resolveModel(
      config({ BASE_MODEL: "acme/dataset-like", LORA_BASE_MATCH: "off", LORA_LICENSE_MATCH: "off" }),
    ).catch((e: unknown) => e);
    expect(notModel).toBeInstanceOf(NotAModelRepoError);
    expect((notModel as Error).message).toMatch(
      /^BASE_MODEL is not a model repo: .*\(repo acme\/dataset-like, revision main\)$/,
    );
    const gguf = await resolveModel(
      config({ BASE_MODEL: "acme/gguf-base", LORA_BASE_MATCH: "off", LORA_LICENSE_MATCH: "off" }),
    ).catch((e: unknown) => e);
    expect(gguf).toBeInstanceOf(BaseFileRequiredError);
    expect((gguf as Error).message).toMatch(/set BASE_MODEL_FILE to one of its files \(base\.gguf\)/);
    expect(await blobs("acme/dataset-like")).toEqual([]);
    expect(await blobs("acme/gguf-base")).toEqual([]);
  });

  it("checks the adapter's licence and declared base against the listed base before any base file is downloaded", async () => {
    await expect(resolveModel(config({ LORA_ID: "acme/poet-mit" }))).rejects.toBeInstanceOf(LicenseMismatchError);
    await expect(resolveModel(config({ LORA_ID: "acme/poet-foreign" }))).rejects.toBeInstanceOf(BaseModelMismatchError);
    expect(downloads("meta/tiny-llama")).toEqual([]);
    expect(await blobs("meta/tiny-llama")).toEqual([]);
    // Both licences allowed, or the check off: served.
    await expect(
      resolveModel(config({ LORA_ID: "acme/poet-mit", MODEL_LICENSES_ALLOWED: "mit,llama3" })),
    ).resolves.toBeDefined();
    await expect(resolveModel(config({ LORA_ID: "acme/poet-mit", LORA_LICENSE_MATCH: "off" }))).resolves.toBeDefined();
  });
});
