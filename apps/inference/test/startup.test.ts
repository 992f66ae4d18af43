import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHash } from "node:crypto";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateTinyLlama, jsonLine, startFakeHub, type FakeHub } from "@slm/testkit";
import { failInference, startInference, type StartedInference } from "./start-inference.ts";

const TOKEN = "hf_inferencetest000000";
const model = Buffer.from(generateTinyLlama({ seed: 11 }));
const sha256 = createHash("sha256").update(model).digest("hex");

let hub: FakeHub;
let secretCommit: string;
const caches: string[] = [];
const newCache = async () => {
  const dir = await mkdtemp(join(tmpdir(), "inference-cache-"));
  caches.push(dir);
  return dir;
};
const blobsIn = async (cache: string, repo: string) =>
  readdir(join(cache, `models--${repo.replace("/", "--")}`, "blobs")).catch(() => [] as string[]);

beforeAll(async () => {
  hub = await startFakeHub();
  hub.tag("acme/tiny", "v1", hub.addRepo({ id: "acme/tiny", files: { "tiny.gguf": model } }));
  secretCommit = hub.addRepo({ id: "acme/secret", private: true, files: { "tiny.gguf": model } });
  hub.addToken(TOKEN, { canRead: ["acme/secret"] });
});
afterAll(async () => {
  await hub.close();
  await Promise.all(caches.map((c) => rm(c, { recursive: true, force: true })));
});

const env = async (overrides: Record<string, string> = {}) => ({
  HF_ENDPOINT: hub.url,
  MODEL_CACHE_DIR: await newCache(),
  MODEL_ID: "acme/tiny",
  MODEL_VERSION: "v1",
  MODEL_FILE: "tiny.gguf",
  CONTEXT_SIZE: "256",
  ...overrides,
});

describe("inference startup", () => {
  let inference: StartedInference | undefined;
  afterAll(async () => {
    await inference?.service.stop();
  });

  it("logs model, revision, commit, file, size and sha256, then serves after warm-up", async () => {
    const e = await env({ MODEL_ID: "acme/secret", MODEL_VERSION: "main", HF_TOKEN: TOKEN });
    inference = await startInference(e);
    const verified = inference.service.lines.map(jsonLine).find((j) => j?.msg === "model verified");
    expect(verified).toMatchObject({
      model: "acme/secret",
      revision: "main",
      commit: secretCommit,
      file: "tiny.gguf",
      size: model.length,
      sha256,
      source: "download",
    });
    expect(inference.service.lines.join("\n")).not.toContain(TOKEN);
    expect(inference.service.lines.every((l) => jsonLine(l) !== undefined)).toBe(true);

    const ready = await fetch(`${inference.url}/ready`);
    expect(ready.status).toBe(200);
    const models = (await (await fetch(`${inference.url}/v1/models`)).json()) as { data: Array<{ id: string }> };
    expect(models.data.map((m) => m.id)).toEqual(["tiny"]);
    const chat = await fetch(`${inference.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ messages: [{ role: "user", content: "Hello" }], max_tokens: 4, temperature: 0 }),
    });
    const body = (await chat.json()) as {
      choices: Array<{ message: { content: string }; finish_reason: string }>;
      usage: { completion_tokens: number };
    };
    expect(chat.status).toBe(200);
    expect(body.choices[0]?.message.content.length).toBeGreaterThan(0);
    expect(body.choices[0]?.finish_reason).toBe("length");
    expect(body.usage.completion_tokens).toBe(4);
  });

  it.each([
    [
      "a wrong MODEL_FILE",
      { MODEL_FILE: "other.gguf" },
      /file not found.*repo acme\/tiny, revision v1, file other\.gguf/,
    ],
    [
      "an unknown revision",
      { MODEL_VERSION: "v404" },
      /revision not found.*repo acme\/tiny, revision v404, file tiny\.gguf/,
    ],
    [
      "a private repo without token",
      { MODEL_ID: "acme/secret", MODEL_VERSION: "main" },
      /private and no HF_TOKEN.*repo acme\/secret/,
    ],
    [
      "a bad environment",
      { INFERENCE_PORT: "http", HF_TOKEN: "not-a-token" },
      /invalid inference environment.*INFERENCE_PORT.*HF_TOKEN/,
    ],
  ])("exits non-zero with one clear line on %s", async (_name, overrides, message) => {
    const e = await env(overrides);
    const { code, lines, ms } = await failInference(e);
    expect(code).toBe(1);
    expect(ms).toBeLessThan(15_000);
    const fatal = lines.map(jsonLine).filter((j) => j?.level === 60);
    expect(fatal).toHaveLength(1);
    expect(String(fatal[0]?.msg)).toMatch(message);
    const all = lines.join("\n");
    expect(all).not.toMatch(/\n\s+at /); // no stack trace
    expect(all).not.toContain(hub.url);
    expect(all).not.toContain("not-a-token");
    expect(await blobsIn(e.MODEL_CACHE_DIR, e.MODEL_ID)).toEqual([]);
  });

  it("exits non-zero on a corrupted download and keeps nothing corrupt in the cache", async () => {
    const e = await env();
    hub.faults.set({ kind: "corruptBody", where: "cdn" });
    try {
      const { code, lines } = await failInference(e);
      expect(code).toBe(1);
      const fatal = lines.map(jsonLine).find((j) => j?.level === 60);
      expect(String(fatal?.msg)).toMatch(
        /integrity check failed: sha256 .*repo acme\/tiny, revision v1, file tiny\.gguf/,
      );
      expect(fatal?.code).toBe("checksum_mismatch");
    } finally {
      hub.faults.clear();
    }
    expect(await blobsIn(e.MODEL_CACHE_DIR, "acme/tiny")).toEqual([]);
  });
});
