import * as v from "valibot";
import { bearerToken, boolean, httpUrl, integer, list, logLevel, port, text } from "./fields.ts";
import { cleanEnv, readEnv, type EnvSource } from "./read-env.ts";

/** What inference serves when no model is configured: a tiny public GGUF, pinned by commit and checksum. */
export const DEFAULT_MODEL = {
  id: "ggml-org/test-model-stories260K",
  file: "stories260K-f32.gguf",
  revision: "479896ec924af6d40fd419ab8f4d1eb2101de00d",
  sha256: "270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d",
  size: 1_185_376,
} as const;

export const DEFAULT_HF_ENDPOINT = "https://huggingface.co";

const REPO_ID = /^(?:[\w][\w.-]*\/)?[\w][\w.-]*$/;
const REVISION = /^(?!.*\.\.)[\w][\w.\-/]*$/;
/**
 * A file path inside a repo: `/`-separated segments, none empty, `.` or `..`, and no control character or
 * backslash anywhere (a regular expression's `.` stops at a newline, so a lookahead alone let "a\n/../x" through).
 */
export function isRepoFilePath(path: string): boolean {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  if (path.length === 0 || path.length > 1024 || /[\u0000-\u001f\u007f\\]/.test(path)) return false;
  return path.split("/").every((segment) => segment !== "" && segment !== "." && segment !== "..");
}
/** @huggingface/hub throws a TypeError for tokens without this prefix; we say so at startup instead. */
export const HF_TOKEN_PATTERN = /^hf_\S+$/;

const repoId = () => v.optional(v.pipe(v.string(), v.trim(), v.regex(REPO_ID, "a Hub repo id like org/name")));
const revision = () => v.optional(v.pipe(v.string(), v.trim(), v.regex(REVISION, "a branch, tag or 40-hex commit")));
const filePath = () =>
  v.optional(v.pipe(v.string(), v.trim(), v.check(isRepoFilePath, "a relative file path inside the repo")));
/** One LORA_ADAPTERS entry, `name=org/repo@revision[:file.gguf]` (a revision never holds ':'), or undefined. */
function parseAdapterEntry(entry: string): LoraAdapterSpec | undefined {
  const match = /^([\w.-]{1,128})=([^@:]+)(?:@([^:]+))?(?::(.+))?$/.exec(entry);
  if (!match) return undefined;
  const [, name, id, revision, file] = match;
  if (
    !REPO_ID.test(id!) ||
    (revision !== undefined && !REVISION.test(revision)) ||
    (file !== undefined && !isRepoFilePath(file))
  ) {
    return undefined;
  }
  return { name: name!, id: id!, revision: revision ?? "main", file };
}

const token = () =>
  v.optional(v.pipe(v.string(), v.trim(), v.regex(HF_TOKEN_PATTERN, "a Hub access token starting with hf_")));

/** A duration in seconds (decimals allowed, as the Python client reads HF_HUB_DOWNLOAD_TIMEOUT), as milliseconds. */
function secondsAsMs(options: { default: number; min: number; max: number }) {
  const expected = `a number of seconds from ${options.min} to ${options.max}`;
  return v.pipe(
    v.optional(v.string(), String(options.default)),
    v.regex(/^\s*\d+(\.\d+)?\s*$/, expected),
    v.transform(Number),
    v.minValue(options.min, expected),
    v.maxValue(options.max, expected),
    v.transform((seconds) => Math.round(seconds * 1000)),
  );
}

/** LLAMA_THREADS: "auto" (measured at startup on the loaded model) or a fixed count. */
function threadCount() {
  const expected = "auto or an integer from 1 to 256";
  return v.pipe(
    v.optional(v.string(), "auto"),
    v.transform((s) => s.trim().toLowerCase()),
    v.regex(/^(auto|\d{1,3})$/, expected),
    v.transform((s): number | "auto" => (s === "auto" ? "auto" : Number(s))),
    v.check((n) => n === "auto" || (n >= 1 && n <= 256), expected),
  );
}

const InferenceEnvFields = v.object({
  NODE_ENV: v.optional(v.string(), "development"),
  LOG_LEVEL: logLevel(),
  INFERENCE_HOST: v.optional(v.pipe(v.string(), v.trim()), "127.0.0.1"),
  INFERENCE_PORT: port(8081),
  INFERENCE_API_KEY: bearerToken(),
  INFERENCE_ALLOW_UNAUTHENTICATED: boolean(false),
  INFERENCE_MAX_BODY_BYTES: integer({ default: 8 * 1024 * 1024, min: 1024, max: 1024 * 1024 * 1024 }),
  REQUEST_TIMEOUT_MS: integer({ default: 300_000, min: 1_000, max: 3_600_000 }),
  SHUTDOWN_GRACE_MS: integer({ default: 10_000, min: 0, max: 600_000 }),

  MODEL_REGISTRY: v.optional(v.picklist(["huggingface"], "huggingface"), "huggingface"),
  MODEL_ID: repoId(),
  MODEL_VERSION: revision(),
  MODEL_TYPE: v.optional(v.picklist(["gguf", "lora"], "gguf or lora"), "gguf"),
  MODEL_FILE: filePath(),
  MODEL_SHA256: v.optional(v.pipe(v.string(), v.trim(), v.toLowerCase(), v.regex(/^[0-9a-f]{64}$/, "a 64-hex sha256"))),
  MODEL_ALIAS: v.optional(v.pipe(v.string(), v.trim(), v.regex(/^[\w.:-]{1,128}$/, "a model name of [A-Za-z0-9_.:-]"))),
  LORA_ID: repoId(),
  LORA_VERSION: revision(),
  LORA_FILE: filePath(),
  LORA_SCALE: v.optional(
    v.pipe(
      v.string(),
      v.trim(),
      v.regex(/^\d+(\.\d+)?$/, "a number from 0 to 100"),
      v.transform(Number),
      v.maxValue(100, "a number from 0 to 100"),
    ),
  ),
  LORA_ADAPTERS: v.optional(
    v.pipe(
      v.string(),
      v.trim(),
      v.transform((text) =>
        text
          .split(",")
          .map((entry) => entry.trim())
          .filter((entry) => entry !== ""),
      ),
      v.check(
        (entries) => entries.length > 0 && entries.every((entry) => parseAdapterEntry(entry) !== undefined),
        "a comma-separated list of name=org/repo@revision (optionally :file.gguf for a GGUF adapter)",
      ),
      v.check(
        (entries) => new Set(entries.map((e) => e.split("=")[0])).size === entries.length,
        "distinct adapter names",
      ),
    ),
  ),
  LORA_BASE_MATCH: v.optional(v.picklist(["on", "off"], "on or off"), "on"),
  LORA_LICENSE_MATCH: v.optional(v.picklist(["on", "off"], "on or off"), "on"),
  LORA_MERGE: boolean(false),
  BASE_MODEL: repoId(),
  BASE_MODEL_VERSION: revision(),
  BASE_MODEL_FILE: filePath(),
  BASE_MODEL_QUANT: v.optional(v.picklist(["q8_0", "f16"], "q8_0 or f16"), "q8_0"),

  HF_TOKEN: token(),
  HUGGING_FACE_HUB_TOKEN: token(),
  HF_TOKEN_PATH: text(),
  HF_ENDPOINT: httpUrl(DEFAULT_HF_ENDPOINT),
  HF_HOME: text(),
  HF_HUB_CACHE: text(),
  HUGGINGFACE_HUB_CACHE: text(),
  HF_HUB_OFFLINE: boolean(false),
  TRANSFORMERS_OFFLINE: boolean(false),
  HF_HUB_DOWNLOAD_TIMEOUT: secondsAsMs({ default: 10, min: 0.1, max: 3600 }),
  /** Accepted for setups written for the Python client; without effect: the service never uses the Xet protocol. */
  HF_HUB_DISABLE_XET: boolean(false),
  XDG_CACHE_HOME: text(),
  HOME: text(),
  MODEL_CACHE_DIR: text(),
  MODEL_LOCKFILE: text(),
  MODEL_LICENSES_ALLOWED: list(),
  MODEL_ALLOW_FLOATING_REVISION: boolean(false),
  MODEL_REVERIFY: boolean(false),
  HUB_RETRIES: integer({ default: 4, min: 0, max: 20 }),
  HUB_RETRY_BASE_MS: integer({ default: 250, min: 1, max: 60_000 }),
  HUB_RETRY_MAX_WAIT_MS: integer({ default: 30_000, min: 1, max: 3_600_000 }),

  LLAMA_THREADS: threadCount(),
  CONTEXT_SIZE: integer({ default: 2048, min: 64, max: 1 << 20 }),
  PARALLEL: integer({ default: 2, min: 1, max: 64 }),
  MAX_QUEUE: integer({ default: 64, min: 0, max: 100_000 }),
  MAX_QUEUE_PER_PRINCIPAL: v.optional(integer({ default: 0, min: 0, max: 100_000 })),
  PROMPT_CACHE_BYTES: v.optional(integer({ default: 0, min: 0, max: Number.MAX_SAFE_INTEGER })),
  PROMPT_CACHE_DIR: text(),
  PROMPT_CACHE_DISK_BYTES: integer({ default: 8 * 1024 ** 3, min: 0, max: Number.MAX_SAFE_INTEGER }),
  CHAT_TEMPLATE: v.optional(v.string()),
  ALLOW_SPECIAL_TOKENS_IN_MESSAGES: boolean(false),
  EMBEDDINGS: v.optional(v.picklist(["auto", "on", "off"], "auto, on or off"), "auto"),
  GRAMMAR_MAX_SCHEMA_BYTES: integer({ default: 65_536, min: 1024, max: 16 * 1024 * 1024 }),
  GRAMMAR_MAX_DEPTH: integer({ default: 32, min: 1, max: 256 }),
  GRAMMAR_MAX_ENUM: integer({ default: 1000, min: 1, max: 100_000 }),
  GRAMMAR_MAX_REPEAT: integer({ default: 500, min: 1, max: 2000 }),
});

/** 127.0.0.0/8, ::1 and localhost: only this machine can connect. */
export function isLoopbackHost(host: string): boolean {
  return host === "localhost" || host === "::1" || host === "[::1]" || /^127(?:\.\d{1,3}){3}$/.test(host);
}

const InferenceEnvSchema = v.pipe(
  InferenceEnvFields,
  v.forward(
    v.partialCheck(
      [["NODE_ENV"], ["INFERENCE_HOST"], ["INFERENCE_API_KEY"], ["INFERENCE_ALLOW_UNAUTHENTICATED"]],
      (e) =>
        e.NODE_ENV !== "production" ||
        isLoopbackHost(e.INFERENCE_HOST) ||
        e.INFERENCE_API_KEY !== undefined ||
        e.INFERENCE_ALLOW_UNAUTHENTICATED,
      "the internal key, required in production when INFERENCE_HOST is not a loopback address (anyone who reaches the port could use the model around the gateway); set INFERENCE_ALLOW_UNAUTHENTICATED=1 to serve without one",
    ),
    ["INFERENCE_API_KEY"],
  ),
  v.forward(
    v.partialCheck(
      [["MODEL_TYPE"], ["MODEL_ID"], ["MODEL_FILE"]],
      (e) => e.MODEL_TYPE !== "gguf" || e.MODEL_ID === undefined || e.MODEL_FILE !== undefined,
      "the .gguf file to serve, required when MODEL_ID is set and MODEL_TYPE=gguf",
    ),
    ["MODEL_FILE"],
  ),
  v.forward(
    v.partialCheck(
      [["MODEL_TYPE"], ["LORA_ID"], ["LORA_ADAPTERS"]],
      (e) => e.MODEL_TYPE !== "lora" || (e.LORA_ID !== undefined) !== (e.LORA_ADAPTERS !== undefined),
      "the adapter repo: with MODEL_TYPE=lora set LORA_ID (one adapter) or LORA_ADAPTERS (several), not both",
    ),
    ["LORA_ID"],
  ),
  v.forward(
    v.partialCheck(
      [["MODEL_TYPE"], ["BASE_MODEL"]],
      (e) => e.MODEL_TYPE !== "lora" || e.BASE_MODEL !== undefined,
      "the base model repo (a GGUF repo with BASE_MODEL_FILE, or a transformers repo), required when MODEL_TYPE=lora",
    ),
    ["BASE_MODEL"],
  ),
  v.forward(
    v.partialCheck(
      [["MODEL_TYPE"], ["LORA_MERGE"], ["BASE_MODEL_FILE"], ["LORA_ADAPTERS"], ["LORA_FILE"], ["LORA_SCALE"]],
      (e) =>
        e.MODEL_TYPE !== "lora" ||
        !e.LORA_MERGE ||
        (e.BASE_MODEL_FILE === undefined &&
          e.LORA_ADAPTERS === undefined &&
          e.LORA_FILE === undefined &&
          (e.LORA_SCALE ?? 1) === 1),
      "LORA_MERGE=1 only with a transformers base (BASE_MODEL_FILE unset), one PEFT adapter (LORA_ID without LORA_FILE) and LORA_SCALE 1",
    ),
    ["LORA_MERGE"],
  ),
  v.transform(toInferenceConfig),
);

type InferenceEnvFields = v.InferOutput<typeof InferenceEnvFields>;

export interface HubSettings {
  endpoint: string;
  /** From HF_TOKEN or HUGGING_FACE_HUB_TOKEN; the token file is read by the service (it is I/O). */
  token: string | undefined;
  tokenPath: string;
  home: string;
  cacheDir: string;
  offline: boolean;
  /** HF_HUB_DOWNLOAD_TIMEOUT: how long a Hub request may stay silent before it is retried (a download resumed). */
  downloadTimeoutMs: number;
}

/** How model artifacts are pinned, checked and fetched (the supply chain's policy knobs). */
export interface SupplyChainSettings {
  /** MODEL_LOCKFILE: a path, "none" to ignore lockfiles, or undefined for the default (models.lock.json at the repo root). */
  lockfile: string | undefined;
  /** Lower-cased licence ids; empty means every licence is accepted (and logged). */
  licensesAllowed: string[];
  /** Serve a branch (floating) revision even with NODE_ENV=production. */
  allowFloatingRevision: boolean;
  /** Rehash cached blobs at every start instead of trusting the verified marker (size + mtime + inode). */
  reverify: boolean;
  retry: { retries: number; baseDelayMs: number; maxWaitMs: number };
}

export interface ModelSpec {
  type: "gguf" | "lora";
  id: string;
  revision: string;
  file: string | undefined;
  sha256: string | undefined;
  alias: string | undefined;
  lora: LoraSpec | undefined;
}

/** One adapter repo: LORA_ID/LORA_VERSION/LORA_FILE, or a LORA_ADAPTERS entry. */
export interface LoraAdapterSpec {
  /** The model name clients select it by: the LORA_ADAPTERS name, or MODEL_ALIAS / the repo name for LORA_ID. */
  name: string;
  id: string;
  /** Default main. */
  revision: string;
  /** A GGUF adapter in the repo; undefined means a PEFT repo (adapter_config.json + adapter_model.safetensors). */
  file: string | undefined;
}

/** MODEL_TYPE=lora: a base (GGUF, or a transformers repo converted at startup) and its adapters, each its own repo and revision. */
export interface LoraSpec {
  /** One (LORA_ID) or several (LORA_ADAPTERS). */
  adapters: LoraAdapterSpec[];
  /** LORA_ADAPTERS: the base is served too, and a request's `model` picks the adapter. */
  multi: boolean;
  /** LORA_SCALE, default 1 (for every adapter). */
  scale: number;
  /** LORA_BASE_MATCH=off skips the check of the adapter's declared base against BASE_MODEL. */
  baseMatch: boolean;
  /** LORA_LICENSE_MATCH=off skips the check that the adapter's licence is compatible with the base's. */
  licenseMatch: boolean;
  /** BASE_MODEL, BASE_MODEL_VERSION (default main: resolved to a commit, see the branch policy). */
  baseModel: string;
  baseRevision: string;
  /** BASE_MODEL_FILE: the base GGUF; undefined means BASE_MODEL is a transformers repo, converted at startup. */
  baseFile: string | undefined;
  /** BASE_MODEL_QUANT: what a transformers base is converted to (default q8_0). */
  baseQuant: "q8_0" | "f16";
  /** LORA_MERGE=1: the (one, PEFT) adapter is folded into the converted base instead of applied per token. */
  merge: boolean;
}

/**
 * Variables that are set but do not apply to the chosen MODEL_TYPE (e.g. MODEL_ID and MODEL_FILE of a copied
 * configuration block with MODEL_TYPE=lora): startup warns once per variable, by name only (never the value).
 */
export interface IgnoredVariable {
  variable: string;
  reason: string;
}

const GGUF_ONLY = ["MODEL_ID", "MODEL_FILE", "MODEL_SHA256"] as const;
const LORA_ONLY = [
  "LORA_ID",
  "LORA_VERSION",
  "LORA_FILE",
  "LORA_SCALE",
  "LORA_ADAPTERS",
  "LORA_BASE_MATCH",
  "LORA_LICENSE_MATCH",
  "LORA_MERGE",
  "BASE_MODEL",
  "BASE_MODEL_VERSION",
  "BASE_MODEL_FILE",
  "BASE_MODEL_QUANT",
] as const;

/** Which set variables the chosen MODEL_TYPE ignores (see IgnoredVariable). `set` holds the names given a value. */
function ignoredVariables(type: "gguf" | "lora", set: ReadonlySet<string>): IgnoredVariable[] {
  if (type === "gguf") {
    return LORA_ONLY.filter((name) => set.has(name)).map((variable) => ({
      variable,
      reason: "applies to MODEL_TYPE=lora only",
    }));
  }
  const ignored: IgnoredVariable[] = GGUF_ONLY.filter((name) => set.has(name)).map((variable) => ({
    variable,
    reason: "applies to MODEL_TYPE=gguf only (with MODEL_TYPE=lora the adapter is LORA_ID, the base BASE_MODEL)",
  }));
  if (set.has("MODEL_VERSION") && (set.has("LORA_VERSION") || set.has("LORA_ADAPTERS"))) {
    ignored.push({
      variable: "MODEL_VERSION",
      reason: set.has("LORA_ADAPTERS")
        ? "LORA_ADAPTERS entries carry their own @revision"
        : "LORA_VERSION pins the adapter",
    });
  }
  if (set.has("BASE_MODEL_QUANT") && set.has("BASE_MODEL_FILE")) {
    ignored.push({
      variable: "BASE_MODEL_QUANT",
      reason: "applies to a transformers base only (BASE_MODEL_FILE is set)",
    });
  }
  return ignored;
}

function toInferenceConfig(e: InferenceEnvFields) {
  const home = expandHome(e.HF_HOME ?? `${e.XDG_CACHE_HOME ?? `${e.HOME ?? "~"}/.cache`}/huggingface`, e.HOME);
  const hub: HubSettings = {
    endpoint: e.HF_ENDPOINT,
    token: e.HF_TOKEN ?? e.HUGGING_FACE_HUB_TOKEN,
    tokenPath: expandHome(e.HF_TOKEN_PATH ?? `${home}/token`, e.HOME),
    home,
    cacheDir: expandHome(e.MODEL_CACHE_DIR ?? e.HF_HUB_CACHE ?? e.HUGGINGFACE_HUB_CACHE ?? `${home}/hub`, e.HOME),
    offline: e.HF_HUB_OFFLINE || e.TRANSFORMERS_OFFLINE,
    downloadTimeoutMs: e.HF_HUB_DOWNLOAD_TIMEOUT,
  };
  const usesDefault = e.MODEL_ID === undefined && e.MODEL_TYPE === "gguf";
  const lora = e.MODEL_TYPE === "lora";
  // With MODEL_TYPE=lora, MODEL_VERSION pins the adapter (LORA_ID) unless LORA_VERSION does: the users' guide
  // writes `MODEL_VERSION=v0.1.0` beside LORA_ID, and an adapter floating on main while pinned in the user's eyes
  // is the worst outcome.
  const adapterRevision = e.LORA_VERSION ?? e.MODEL_VERSION ?? "main";
  const model: ModelSpec = {
    type: e.MODEL_TYPE,
    id: usesDefault ? DEFAULT_MODEL.id : lora ? (e.LORA_ID ?? e.BASE_MODEL ?? "") : (e.MODEL_ID ?? ""),
    revision: lora
      ? e.LORA_ADAPTERS
        ? "main"
        : adapterRevision
      : (e.MODEL_VERSION ?? (usesDefault ? DEFAULT_MODEL.revision : "main")),
    file: usesDefault ? DEFAULT_MODEL.file : lora ? undefined : e.MODEL_FILE,
    sha256: lora ? undefined : (e.MODEL_SHA256 ?? (usesDefault ? DEFAULT_MODEL.sha256 : undefined)),
    alias: e.MODEL_ALIAS,
    lora:
      lora && (e.LORA_ID !== undefined || e.LORA_ADAPTERS !== undefined) && e.BASE_MODEL !== undefined
        ? {
            adapters: e.LORA_ADAPTERS
              ? e.LORA_ADAPTERS.map((entry) => parseAdapterEntry(entry)!)
              : [
                  {
                    name: e.MODEL_ALIAS ?? e.LORA_ID!.split("/").pop()!,
                    id: e.LORA_ID!,
                    revision: adapterRevision,
                    file: e.LORA_FILE,
                  },
                ],
            multi: e.LORA_ADAPTERS !== undefined,
            scale: e.LORA_SCALE ?? 1,
            baseMatch: e.LORA_BASE_MATCH === "on",
            licenseMatch: e.LORA_LICENSE_MATCH === "on",
            baseModel: e.BASE_MODEL,
            baseRevision: e.BASE_MODEL_VERSION ?? "main",
            baseFile: e.BASE_MODEL_FILE,
            baseQuant: e.BASE_MODEL_QUANT,
            merge: e.LORA_MERGE,
          }
        : undefined,
  };
  const supplyChain: SupplyChainSettings = {
    lockfile: e.MODEL_LOCKFILE === undefined ? undefined : expandHome(e.MODEL_LOCKFILE, e.HOME),
    licensesAllowed: e.MODEL_LICENSES_ALLOWED.map((id) => id.toLowerCase()),
    allowFloatingRevision: e.MODEL_ALLOW_FLOATING_REVISION,
    reverify: e.MODEL_REVERIFY,
    retry: { retries: e.HUB_RETRIES, baseDelayMs: e.HUB_RETRY_BASE_MS, maxWaitMs: e.HUB_RETRY_MAX_WAIT_MS },
  };
  return {
    production: e.NODE_ENV === "production",
    logLevel: e.LOG_LEVEL,
    server: { host: e.INFERENCE_HOST, port: e.INFERENCE_PORT },
    /** How requests are admitted and ended: internal key, per-request deadline, SIGTERM grace. */
    serving: {
      apiKey: e.INFERENCE_API_KEY,
      requestTimeoutMs: e.REQUEST_TIMEOUT_MS,
      shutdownGraceMs: e.SHUTDOWN_GRACE_MS,
      maxBodyBytes: e.INFERENCE_MAX_BODY_BYTES,
    },
    registry: e.MODEL_REGISTRY,
    model,

    hub,
    supplyChain,
    engine: {
      threads: e.LLAMA_THREADS,
      contextSize: e.CONTEXT_SIZE,
      parallel: e.PARALLEL,
      maxQueue: e.MAX_QUEUE,
      /** Of MAX_QUEUE, requests of one principal (`X-Slm-Principal`); unset: MAX_QUEUE. */
      maxQueuePerPrincipal: e.MAX_QUEUE_PER_PRINCIPAL,
      /**
       * Conversations that leave a slot, kept in RAM (bytes; unset: a share of free memory, 0: off) and, with a
       * directory, on disk across restarts (apps/inference/src/engine/prompt-cache/).
       */
      promptCache: {
        maxBytes: e.PROMPT_CACHE_BYTES,
        dir: e.PROMPT_CACHE_DIR === undefined ? undefined : expandHome(e.PROMPT_CACHE_DIR, e.HOME),
        maxDiskBytes: e.PROMPT_CACHE_DISK_BYTES,
      },
      chatTemplate: e.CHAT_TEMPLATE,
      /** Message text may become control tokens, as under llama-server (off: only the template's text does). */
      allowSpecialTokensInMessages: e.ALLOW_SPECIAL_TOKENS_IN_MESSAGES,
      embeddings: e.EMBEDDINGS,
    },
    /** What one JSON schema (response_format, a tool's parameters) may ask of its grammar; beyond, a 400. */
    grammar: {
      maxSchemaBytes: e.GRAMMAR_MAX_SCHEMA_BYTES,
      maxDepth: e.GRAMMAR_MAX_DEPTH,
      maxEnum: e.GRAMMAR_MAX_ENUM,
      maxRepeat: e.GRAMMAR_MAX_REPEAT,
    },
  };
}

function expandHome(path: string, home: string | undefined): string {
  if (path === "~" || path.startsWith("~/")) return `${home ?? "~"}${path.slice(1)}`;
  return path;
}

export type InferenceConfig = ReturnType<typeof toInferenceConfig> & {
  /** Set variables the chosen MODEL_TYPE ignores: startup warns once for each. */
  ignored: IgnoredVariable[];
};

export function readInferenceEnv(source: EnvSource): InferenceConfig {
  const placeholders = TOKEN_VARIABLES.filter((name) => isTokenPlaceholder(source[name]));
  const given =
    placeholders.length === 0
      ? source
      : { ...source, ...Object.fromEntries(placeholders.map((name) => [name, undefined])) };
  const config = readEnv("inference", InferenceEnvSchema, given, { freeText: FREE_TEXT });
  const set = new Set(Object.keys(cleanEnv(given, { freeText: FREE_TEXT })));
  const ignored = ignoredVariables(config.model.type, set);
  for (const variable of [...set].filter((name) => name.startsWith("HF_XET_")).sort()) {
    ignored.push({
      variable,
      reason:
        "configures the Xet protocol, which this service never uses (it downloads Xet-stored files over plain HTTPS)",
    });
  }
  for (const variable of placeholders) {
    ignored.push({
      variable,
      reason: "holds a placeholder, not a token (set a real hf_ token for a private repo, or delete the line)",
    });
  }
  return { ...config, ignored };
}

const TOKEN_VARIABLES = ["HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"] as const;
/**
 * A token value copied from a guide as is (`HF_TOKEN=...  # only if private`, `hf_xxx`, `<your token>`): read as
 * unset with a warning, so a public repo still serves; a real token is never mistaken for one (they are long and random).
 */
const TOKEN_PLACEHOLDER = /^(?:hf_)?(?:\.{2,}|\u2026|x+|\*+|<[^>]*>)$/i;

function isTokenPlaceholder(raw: string | undefined): boolean {
  if (raw === undefined) return false;
  const value = raw.replace(/(?:^|\s+)#.*$/s, "").trim();
  return value !== "" && TOKEN_PLACEHOLDER.test(value);
}

/** Variables whose values may legitimately hold " #" (a template): never read as carrying an inline comment. */
const FREE_TEXT = ["CHAT_TEMPLATE"];
