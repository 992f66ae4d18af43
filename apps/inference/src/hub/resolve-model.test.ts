import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createHash } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readInferenceEnv } from "@slm/config";
import { generateLoraBase, generatePeftAdapter, generateTinyLlama, startFakeHub, type FakeHub } from "@slm/testkit";
import { resolveModel } from "./resolve-model.ts";
import { lockModels } from "./lock-models.ts";
import { writeLockfile, type Lockfile } from "./policy/index.ts";
import {
  InvalidLockfileError,
  LicenseNotAllowedError,
  LockedRevisionMovedError,
  LockfileMismatchError,
} from "./errors.ts";

const model = Buffer.from(generateTinyLlama({ seed: 3 }));
const gplModel = Buffer.from(generateTinyLlama({ seed: 3, license: "gpl-3.0" }));
const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

let hub: FakeHub;
let commit: string;
let dir: string;

beforeAll(async () => {
  hub = await startFakeHub();
  commit = hub.addRepo({ id: "acme/tiny", license: "apache-2.0", files: { "tiny.gguf": model, "gpl.gguf": gplModel } });
  hub.tag("acme/tiny", "v1", commit);
  hub.addRepo({ id: "acme/unlicensed", files: { "tiny.gguf": model } });
  hub.addRepo({ id: "acme/lora-base", files: { "base.gguf": generateLoraBase({ base: { seed: 3 } }) } });
  hub.addRepo({
    id: "acme/poet",
    files: generatePeftAdapter({ base: { seed: 3 }, seed: 5, baseModelName: "acme/lora-base" }).files,
  });
});
afterAll(async () => {
  await hub.close();
});
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "resolve-model-"));
  hub.resetLog();
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const config = (env: Record<string, string> = {}) =>
  readInferenceEnv({
    HF_ENDPOINT: hub.url,
    HF_HOME: join(dir, "hf-home"),
    MODEL_CACHE_DIR: join(dir, "cache"),
    MODEL_LOCKFILE: join(dir, "models.lock.json"),
    MODEL_ID: "acme/tiny",
    MODEL_VERSION: "v1",
    MODEL_FILE: "tiny.gguf",
    HUB_RETRY_BASE_MS: "1",
    ...env,
  });
const blobs = async (repo = "acme/tiny") =>
  readdir(join(dir, "cache", `models--${repo.replace("/", "--")}`, "blobs")).catch(() => [] as string[]);

describe("models lockfile", () => {
  it("locks a LoRA base and each adapter file by role (and adapter name), and enforces each revision", async () => {
    const lora = {
      MODEL_ID: "",
      MODEL_FILE: "",
      MODEL_VERSION: "",
      MODEL_TYPE: "lora",
      BASE_MODEL: "acme/lora-base",
      BASE_MODEL_FILE: "base.gguf",
    };
    const multi = config({ ...lora, LORA_ADAPTERS: "poet=acme/poet@main" });
    const lock = await lockModels(multi);
    expect(lock.artifacts.map((a) => [a.role, a.adapter, a.repo, a.file])).toEqual([
      ["base", undefined, "acme/lora-base", "base.gguf"],
      ["adapter_config", "poet", "acme/poet", "adapter_config.json"],
      ["adapter_weights", "poet", "acme/poet", "adapter_model.safetensors"],
    ]);
    await writeLockfile(join(dir, "models.lock.json"), lock);
    const resolved = await resolveModel(multi);
    expect(resolved.artifacts.map((a) => [a.role, a.locked])).toEqual([
      ["base", true],
      ["adapter_config", true],
      ["adapter_weights", true],
    ]);
    // The adapter repo moves: its pinned commit no longer matches, the base's still does.
    hub.commit("acme/poet", { "README.md": "v2" });
    await expect(resolveModel(multi)).rejects.toBeInstanceOf(LockedRevisionMovedError);
    // The same adapter under another name is another artifact.
    await expect(resolveModel(config({ ...lora, LORA_ADAPTERS: "verse=acme/poet@main" }))).rejects.toBeInstanceOf(
      LockfileMismatchError,
    );
  });

  it("resolves a PEFT adapter's two files with one revision lookup and one paths-info, locked or not", async () => {
    const lora = config({
      MODEL_ID: "",
      MODEL_FILE: "",
      MODEL_VERSION: "",
      MODEL_TYPE: "lora",
      BASE_MODEL: "acme/lora-base",
      BASE_MODEL_FILE: "base.gguf",
      LORA_ID: "acme/poet",
    });
    await writeLockfile(join(dir, "models.lock.json"), await lockModels(lora));
    expect(hub.requestCounts()).toMatchObject({ revision: 2, refs: 2, "paths-info": 2 });
    hub.resetLog();
    const resolved = await resolveModel(lora);
    expect(resolved.artifacts.map((a) => [a.role, a.locked])).toEqual([
      ["base", true],
      ["adapter_config", true],
      ["adapter_weights", true],
    ]);
    expect(hub.requestCounts()).toMatchObject({ revision: 2, refs: 2, "paths-info": 2 });
    expect(hub.apiRequestCount()).toBe(6);
  });

  it("locks the configured artifact from Hub metadata alone, then startup enforces it", async () => {
    const lock = await lockModels(config());
    expect(lock).toEqual({
      version: 1,
      artifacts: [
        {
          role: "model",
          repo: "acme/tiny",
          revision: "v1",
          commit,
          file: "tiny.gguf",
          size: model.length,
          sha256: sha(model),
          license: "apache-2.0",
        },
      ],
    });
    expect(hub.requests.filter((r) => r.origin === "cdn")).toEqual([]);
    await writeLockfile(join(dir, "models.lock.json"), lock);
    const events: string[] = [];
    const resolved = await resolveModel(config(), { onEvent: (e) => events.push(e.msg) });
    expect(resolved.lockfile).toBe(join(dir, "models.lock.json"));
    expect(resolved.model).toMatchObject({ commit, sha256: sha(model), locked: true, license: "apache-2.0" });
    expect(events).toContain("enforcing the models lockfile");
  });

  it("refuses a tag moved after locking, with the two commits, and caches nothing", async () => {
    hub.tag("acme/tiny", "moving", commit);
    await writeLockfile(join(dir, "models.lock.json"), await lockModels(config({ MODEL_VERSION: "moving" })));
    const moved = hub.commit("acme/tiny", { "other.txt": "x" });
    hub.tag("acme/tiny", "moving", moved);
    const error = await resolveModel(config({ MODEL_VERSION: "moving" })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LockedRevisionMovedError);
    expect((error as Error).message).toMatch(
      new RegExp(`now points to commit ${moved} but .*models\\.lock\\.json pins ${commit}.*revision moving`),
    );
    expect(await blobs()).toEqual([]);
  });

  it.each([
    ["another file", { MODEL_FILE: "gpl.gguf" }, /the lock has file tiny\.gguf/],
    ["another revision", { MODEL_VERSION: commit }, /the lock has revision v1/],
    ["another repo", { MODEL_ID: "acme/unlicensed" }, /the lock has repo acme\/tiny/],
  ])("refuses %s than the lockfile pins", async (_name, env, message) => {
    await writeLockfile(join(dir, "models.lock.json"), await lockModels(config()));
    const error = await resolveModel(config(env)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LockfileMismatchError);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).toMatch(/pnpm models:lock/);
    expect(hub.requests.filter((r) => r.origin === "cdn")).toEqual([]);
  });

  it("refuses a lockfile it cannot read as one, and ignores lockfiles with MODEL_LOCKFILE=none", async () => {
    await writeFile(
      join(dir, "models.lock.json"),
      JSON.stringify({ version: 1, artifacts: [{ role: "model", commit: "nope" }] }),
    );
    await expect(resolveModel(config())).rejects.toBeInstanceOf(InvalidLockfileError);
    await expect(resolveModel(config({ MODEL_LOCKFILE: "none" }))).resolves.toMatchObject({ lockfile: undefined });
  });

  it("records the licence and refuses to lock one the policy forbids", async () => {
    const bad: Lockfile = await lockModels(config());
    expect(bad.artifacts[0]?.license).toBe("apache-2.0");
    await expect(lockModels(config({ MODEL_LICENSES_ALLOWED: "mit" }))).rejects.toBeInstanceOf(LicenseNotAllowedError);
  });
});

describe("licence policy", () => {
  it("serves a licence on the list and logs it otherwise", async () => {
    await expect(resolveModel(config({ MODEL_LICENSES_ALLOWED: "MIT, Apache-2.0" }))).resolves.toMatchObject({
      model: { license: "apache-2.0" },
    });
  });

  it.each([
    ["the Hub's licence", {}, /the Hub declares license apache-2\.0, which is not in MODEL_LICENSES_ALLOWED \(mit\)/],
    [
      "the GGUF's general.license",
      { MODEL_FILE: "gpl.gguf", MODEL_LICENSES_ALLOWED: "apache-2.0" },
      /general\.license declares license gpl-3\.0/,
    ],
    ["no licence at all", { MODEL_ID: "acme/unlicensed", MODEL_VERSION: "main" }, /declares no license/],
  ])("refuses %s when it is not allowed", async (_name, env, message) => {
    const error = await resolveModel(config({ MODEL_LICENSES_ALLOWED: "mit", ...env })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LicenseNotAllowedError);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).toMatch(/\(repo acme\/\w+, revision \w+, file \w+\.gguf\)/);
  });

  it("reads the lockfile's licence offline", async () => {
    await writeLockfile(join(dir, "models.lock.json"), await lockModels(config()));
    await resolveModel(config());
    hub.resetLog();
    const offline = await resolveModel(config({ HF_HUB_OFFLINE: "1", MODEL_LICENSES_ALLOWED: "apache-2.0" }));
    expect(offline.model).toMatchObject({ source: "offline-cache", license: "apache-2.0" });
    expect(hub.requests).toEqual([]);
    expect(JSON.parse(await readFile(join(dir, "models.lock.json"), "utf8"))).toMatchObject({ version: 1 });
  });
});
