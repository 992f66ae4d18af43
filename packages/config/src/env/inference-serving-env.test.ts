import { describe, expect, it } from "vitest";
import { readInferenceEnv } from "../index.ts";

describe("readInferenceEnv: serving knobs", () => {
  it("defaults to measured threads, no internal key, a 5-minute deadline and a 10 s shutdown grace", () => {
    const config = readInferenceEnv({});
    expect(config.engine.threads).toBe("auto");
    expect(config.engine.embeddings).toBe("auto");
    expect(config.serving).toMatchObject({ apiKey: undefined, requestTimeoutMs: 300_000, shutdownGraceMs: 10_000 });
  });

  it("reads a fixed thread count, the internal key and the timeouts", () => {
    const config = readInferenceEnv({
      LLAMA_THREADS: " 2 ",
      INFERENCE_API_KEY: "internal-key-0123456789",
      REQUEST_TIMEOUT_MS: "5000",
      SHUTDOWN_GRACE_MS: "0",
      EMBEDDINGS: "on",
    });
    expect(config.engine.threads).toBe(2);
    expect(config.engine.embeddings).toBe("on");
    expect(config.serving).toMatchObject({
      apiKey: "internal-key-0123456789",
      requestTimeoutMs: 5000,
      shutdownGraceMs: 0,
    });
    expect(readInferenceEnv({ LLAMA_THREADS: "AUTO" }).engine.threads).toBe("auto");
  });

  it("refuses bad values without echoing them", () => {
    expect(() => readInferenceEnv({ LLAMA_THREADS: "0" })).toThrow(
      /LLAMA_THREADS: expected auto or an integer from 1 to 256/,
    );
    expect(() => readInferenceEnv({ LLAMA_THREADS: "many" })).toThrow(/LLAMA_THREADS/);
    expect(() => readInferenceEnv({ INFERENCE_API_KEY: "short-secret" })).toThrow(
      /INFERENCE_API_KEY: expected at least 16 characters/,
    );
    expect(() => readInferenceEnv({ INFERENCE_API_KEY: "short-secret" })).not.toThrow(/short-secret/);
    expect(() => readInferenceEnv({ EMBEDDINGS: "maybe" })).toThrow(/EMBEDDINGS: expected auto, on or off/);
  });
});
