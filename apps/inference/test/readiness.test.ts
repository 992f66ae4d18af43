import { afterAll, describe, expect, it } from "vitest";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  generateTinyLlama,
  jsonLine,
  startFakeHub,
  startService,
  type FakeHub,
  type RunningService,
} from "@slm/testkit";
import { startHeldHubProxy, type HeldHubProxy } from "./held-hub-proxy.ts";

/** /ready answers 503 with the phase (and download progress) during startup, and 200 only once warm. */
// ~8 MB: inference reports download progress every MiB.
const model = Buffer.from(generateTinyLlama({ seed: 3, nLayer: 8, nEmbd: 128, nFf: 384 }));
const HOLD_AFTER = 3 << 20;
let hub: FakeHub | undefined;
let proxy: HeldHubProxy | undefined;
let service: RunningService | undefined;
let cache: string | undefined;
afterAll(async () => {
  await service?.stop();
  await proxy?.close();
  await hub?.close();
  if (cache) await rm(cache, { recursive: true, force: true });
});

const ORDER = ["starting", "resolving", "downloading", "verifying", "loading", "warming_up", "ready"];

describe("readiness", () => {
  it("reports each startup phase with download progress, and turns 200 only when it can serve", {
    timeout: 60_000,
  }, async () => {
    hub = await startFakeHub();
    hub.addRepo({ id: "acme/tiny", files: { "tiny.gguf": model } });
    proxy = await startHeldHubProxy({ hubUrl: hub.url, cdnUrl: hub.cdnUrl, holdAfterBytes: HOLD_AFTER });
    cache = await mkdtemp(join(tmpdir(), "inference-ready-"));
    service = await startService({
      command: ["node", "--import", "tsx", "src/main.ts"],
      cwd: fileURLToPath(new URL("..", import.meta.url)),
      env: {
        INFERENCE_PORT: "0",
        HF_ENDPOINT: proxy.url,
        MODEL_CACHE_DIR: cache,
        MODEL_ID: "acme/tiny",
        MODEL_FILE: "tiny.gguf",
        CONTEXT_SIZE: "256",
      },
      readyWhen: (line) => jsonLine(line)?.msg === "inference listening",
    });
    const port = service.lines.map(jsonLine).find((j) => j?.msg === "inference listening")?.port;
    const url = `http://127.0.0.1:${String(port)}`;

    const seen: Array<{ status: number; body: Record<string, unknown> }> = [];
    const poll = async () => {
      const response = await fetch(`${url}/ready`);
      const entry = { status: response.status, body: (await response.json()) as Record<string, unknown> };
      seen.push(entry);
      return entry;
    };
    // Held mid-download: 503, phase downloading, with progress.
    await expect.poll(async () => (await poll()).body.phase, { timeout: 20_000, interval: 20 }).toBe("downloading");
    const progress = seen.at(-1)!.body;
    expect(progress).toMatchObject({ status: "not_ready", phase: "downloading", totalBytes: model.length });
    expect(progress.downloadedBytes).toBeGreaterThan(0);
    expect(progress.downloadedBytes).toBeLessThanOrEqual(HOLD_AFTER);
    expect(seen.every((s) => s.status === 503)).toBe(true);
    const chat = () =>
      fetch(`${url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ messages: [{ role: "user", content: "hi" }], max_tokens: 2 }),
      });
    const early = await chat();
    expect(early.status).toBe(503);
    expect(await early.json()).toMatchObject({ error: { code: "model_not_ready" } });

    proxy.release();
    await expect.poll(async () => (await poll()).status, { timeout: 30_000, interval: 5 }).toBe(200);
    expect(seen.at(-1)?.body).toEqual({ status: "ready", phase: "ready" });
    // The first 200 means warm: a request is served at once.
    expect((await chat()).status).toBe(200);

    // Phases only move forward, and 200 came only with "ready".
    const phases = seen.map((s) => String(s.body.phase)).filter((p, i, all) => p !== all[i - 1]);
    const positions = phases.map((p) => ORDER.indexOf(p));
    expect(positions.every((p) => p >= 0)).toBe(true);
    expect(positions).toEqual([...positions].sort((a, b) => a - b));
    expect(seen.filter((s) => s.status === 200).every((s) => s.body.phase === "ready")).toBe(true);
  });
});
