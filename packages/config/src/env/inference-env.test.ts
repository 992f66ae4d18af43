import { describe, expect, it } from "vitest";
import { DEFAULT_MODEL, EnvError, readInferenceEnv } from "../index.ts";

describe("readInferenceEnv", () => {
  it("serves the pinned default model when nothing is configured", () => {
    const config = readInferenceEnv({ HOME: "/home/u" });
    expect(config.model).toMatchObject({
      type: "gguf",
      id: DEFAULT_MODEL.id,
      file: DEFAULT_MODEL.file,
      revision: DEFAULT_MODEL.revision,
      sha256: DEFAULT_MODEL.sha256,
    });
    expect(config.server).toEqual({ host: "127.0.0.1", port: 8081 });
    expect(config.hub).toMatchObject({
      endpoint: "https://huggingface.co",
      home: "/home/u/.cache/huggingface",
      cacheDir: "/home/u/.cache/huggingface/hub",
      tokenPath: "/home/u/.cache/huggingface/token",
      offline: false,
    });
  });

  it("reads the Hub docs' variables as written", () => {
    const config = readInferenceEnv({
      MODEL_REGISTRY: "huggingface",
      MODEL_ID: "acme/tiny-chat",
      MODEL_VERSION: "v1.2",
      MODEL_TYPE: "gguf",
      MODEL_FILE: "tiny-q8_0.gguf",
      HF_TOKEN: "hf_abcdef",
      HF_ENDPOINT: "http://127.0.0.1:9999/",
      HF_HOME: "~/hf",
      HOME: "/root",
      HF_HUB_OFFLINE: "YES",
    });
    expect(config.model).toMatchObject({
      id: "acme/tiny-chat",
      revision: "v1.2",
      file: "tiny-q8_0.gguf",
      sha256: undefined,
    });
    expect(config.hub).toMatchObject({
      endpoint: "http://127.0.0.1:9999",
      token: "hf_abcdef",
      home: "/root/hf",
      cacheDir: "/root/hf/hub",
      offline: true,
    });
  });

  it("reads the supply-chain policy: lockfile, licences, floating revisions, re-verification, retries", () => {
    expect(readInferenceEnv({}).supplyChain).toEqual({
      lockfile: undefined,
      licensesAllowed: [],
      allowFloatingRevision: false,
      reverify: false,
      retry: { retries: 4, baseDelayMs: 250, maxWaitMs: 30_000 },
    });
    const config = readInferenceEnv({
      HOME: "/home/u",
      MODEL_LOCKFILE: "~/models.lock.json",
      MODEL_LICENSES_ALLOWED: " Apache-2.0, mit ,",
      MODEL_ALLOW_FLOATING_REVISION: "1",
      MODEL_REVERIFY: "true",
      HUB_RETRIES: "0",
      HUB_RETRY_BASE_MS: "5",
      HUB_RETRY_MAX_WAIT_MS: "100",
    });
    expect(config.supplyChain).toEqual({
      lockfile: "/home/u/models.lock.json",
      licensesAllowed: ["apache-2.0", "mit"],
      allowFloatingRevision: true,
      reverify: true,
      retry: { retries: 0, baseDelayMs: 5, maxWaitMs: 100 },
    });
    expect(() => readInferenceEnv({ HUB_RETRIES: "-1" })).toThrow(/HUB_RETRIES/);
  });

  it("defaults MODEL_VERSION to main for a configured model", () => {
    expect(readInferenceEnv({ MODEL_ID: "a/b", MODEL_FILE: "x.gguf" }).model.revision).toBe("main");
  });

  it("follows the Python client's precedence for tokens and cache folders", () => {
    const config = readInferenceEnv({
      HUGGING_FACE_HUB_TOKEN: "hf_second",
      HUGGINGFACE_HUB_CACHE: "/legacy",
      XDG_CACHE_HOME: "/xdg",
    });
    expect(config.hub.token).toBe("hf_second");
    expect(config.hub.cacheDir).toBe("/legacy");
    expect(config.hub.home).toBe("/xdg/huggingface");
    expect(readInferenceEnv({ HF_TOKEN: "hf_first", HUGGING_FACE_HUB_TOKEN: "hf_second" }).hub.token).toBe("hf_first");
    expect(readInferenceEnv({ HF_HUB_CACHE: "/a", MODEL_CACHE_DIR: "/b" }).hub.cacheDir).toBe("/b");
    expect(readInferenceEnv({ TRANSFORMERS_OFFLINE: "1" }).hub.offline).toBe(true);
  });

  it("treats empty variables as unset", () => {
    expect(readInferenceEnv({ MODEL_ID: "", HF_TOKEN: " " }).model.id).toBe(DEFAULT_MODEL.id);
  });

  it("lists every problem in one error, by variable name, without echoing values", () => {
    let error: unknown;
    try {
      readInferenceEnv({
        MODEL_ID: "acme/x",
        HF_TOKEN: "secret-token-value",
        INFERENCE_PORT: "eighty",
        MODEL_TYPE: "onnx",
        HF_HUB_OFFLINE: "maybe",
        HF_ENDPOINT: "ftp://secret-host",
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(EnvError);
    const message = (error as EnvError).message;
    const variables = (error as EnvError).problems.map((p) => p.variable).sort();
    expect(variables).toEqual(["HF_ENDPOINT", "HF_HUB_OFFLINE", "HF_TOKEN", "INFERENCE_PORT", "MODEL_TYPE"].sort());
    expect(message).toContain("HF_TOKEN: expected a Hub access token starting with hf_");
    expect(message).toContain("INFERENCE_PORT: expected an integer from 0 to 65535");
    expect(message).not.toContain("secret-token-value");
    expect(message).not.toContain("secret-host");
    expect(message).not.toContain("eighty");
  });

  it("in production, refuses to listen beyond loopback without the internal key unless told to", () => {
    const exposed = { NODE_ENV: "production", INFERENCE_HOST: "0.0.0.0" };
    expect(() => readInferenceEnv(exposed)).toThrow(
      /INFERENCE_API_KEY: .*required in production when INFERENCE_HOST is not a loopback address/,
    );
    expect(readInferenceEnv({ ...exposed, INFERENCE_ALLOW_UNAUTHENTICATED: "1" }).server.host).toBe("0.0.0.0");
    expect(readInferenceEnv({ ...exposed, INFERENCE_API_KEY: "internal-key-0123456789" }).serving.apiKey).toBeDefined();
    expect(readInferenceEnv({ NODE_ENV: "production", INFERENCE_HOST: "127.0.0.1" }).server.host).toBe("127.0.0.1");
    expect(readInferenceEnv({ INFERENCE_HOST: "0.0.0.0" }).server.host).toBe("0.0.0.0"); // development: a warning at startup
  });

  it("refuses file paths that leave the repo, including with a newline, and control characters", () => {
    for (const file of [
      "../x.gguf",
      "a/../x.gguf",
      "a\n/../x.gguf",
      "/etc/passwd",
      "a//b.gguf",
      "./a.gguf",
      "a\\..\\b",
      "a\u0000b",
      "a\tb.gguf",
    ]) {
      expect(() => readInferenceEnv({ MODEL_ID: "a/b", MODEL_FILE: file }), JSON.stringify(file)).toThrow(/MODEL_FILE/);
    }
    expect(() =>
      readInferenceEnv({
        MODEL_TYPE: "lora",
        BASE_MODEL: "a/b",
        BASE_MODEL_FILE: "base.gguf",
        LORA_ADAPTERS: "x=a/c@v1:sub\n/../y.gguf",
      }),
    ).toThrow(/LORA_ADAPTERS/);
    expect(readInferenceEnv({ MODEL_ID: "a/b", MODEL_FILE: "quantized/model.Q4_K_M.gguf" }).model.file).toBe(
      "quantized/model.Q4_K_M.gguf",
    );
  });

  it("requires MODEL_FILE for a configured GGUF and LORA_ID/BASE_MODEL for lora", () => {
    expect(() => readInferenceEnv({ MODEL_ID: "a/b" })).toThrow(/MODEL_FILE: expected the .gguf file/);
    expect(() => readInferenceEnv({ MODEL_TYPE: "lora" })).toThrow(/LORA_ID: .*BASE_MODEL: /s);
  });

  it("reads MODEL_TYPE=lora: a base and one adapter, each with its own revision", () => {
    const base = { MODEL_TYPE: "lora", BASE_MODEL: "acme/base-GGUF", BASE_MODEL_FILE: "base.gguf" };
    expect(readInferenceEnv({ ...base, LORA_ID: "acme/poet" }).model.lora).toEqual({
      adapters: [{ name: "poet", id: "acme/poet", revision: "main", file: undefined }],
      multi: false,
      scale: 1,
      baseMatch: true,
      licenseMatch: true,
      baseModel: "acme/base-GGUF",
      baseRevision: "main",
      baseFile: "base.gguf",
      baseQuant: "q8_0",
      merge: false,
    });
    const pinned = readInferenceEnv({
      ...base,
      BASE_MODEL_VERSION: "v1",
      LORA_ID: "acme/poet",
      LORA_VERSION: "v2",
      LORA_FILE: "poet.gguf",
      LORA_SCALE: "0.5",
      LORA_BASE_MATCH: "off",
      MODEL_ALIAS: "verse",
    }).model.lora;
    expect(pinned).toMatchObject({
      adapters: [{ name: "verse", revision: "v2", file: "poet.gguf" }],
      scale: 0.5,
      baseMatch: false,
      baseRevision: "v1",
    });
    expect(() => readInferenceEnv({ ...base, LORA_ID: "a/b", LORA_SCALE: "-1" })).toThrow(/LORA_SCALE/);
  });

  it("reads LORA_ADAPTERS as name=repo@revision[:file] entries, instead of LORA_ID", () => {
    const base = { MODEL_TYPE: "lora", BASE_MODEL: "acme/base-GGUF", BASE_MODEL_FILE: "base.gguf" };
    const config = readInferenceEnv({ ...base, LORA_ADAPTERS: "poet=acme/poet@v1, critic=acme/critic:critic.gguf," });
    expect(config.model.lora).toMatchObject({
      multi: true,
      adapters: [
        { name: "poet", id: "acme/poet", revision: "v1", file: undefined },
        { name: "critic", id: "acme/critic", revision: "main", file: "critic.gguf" },
      ],
    });
    expect(() => readInferenceEnv({ ...base, LORA_ADAPTERS: "poet=acme/poet,poet=acme/other" })).toThrow(
      /LORA_ADAPTERS: .*distinct/,
    );
    expect(() => readInferenceEnv({ ...base, LORA_ADAPTERS: "acme/poet" })).toThrow(/LORA_ADAPTERS/);
    expect(() => readInferenceEnv({ ...base, LORA_ADAPTERS: "p=acme/poet:../x.gguf" })).toThrow(/LORA_ADAPTERS/);
    expect(() => readInferenceEnv({ ...base, LORA_ADAPTERS: "p=acme/poet", LORA_ID: "acme/poet" })).toThrow(
      /LORA_ID: .*not both/,
    );
  });

  it("refuses paths that escape the repo", () => {
    expect(() => readInferenceEnv({ MODEL_ID: "a/b", MODEL_FILE: "../x.gguf" })).toThrow(/MODEL_FILE/);
    expect(() => readInferenceEnv({ MODEL_ID: "a/b", MODEL_FILE: "/etc/passwd" })).toThrow(/MODEL_FILE/);
    expect(() => readInferenceEnv({ MODEL_ID: "a/b", MODEL_FILE: "x.gguf", MODEL_VERSION: "a/../b" })).toThrow(
      /MODEL_VERSION/,
    );
  });
});
