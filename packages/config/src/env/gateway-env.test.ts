import { describe, expect, it } from "vitest";
import { EnvError, readGatewayEnv } from "../index.ts";

describe("readGatewayEnv", () => {
  it("has the documented defaults and closes by default", () => {
    const config = readGatewayEnv({});
    expect(config.server).toEqual({ host: "127.0.0.1", port: 8080 });
    expect(config.inferenceUrls).toEqual(["http://127.0.0.1:8081"]);
    expect(config.apiKeys).toEqual([]);
    expect(config.allowAnonymous).toBe(false);
  });

  it("splits GATEWAY_API_KEYS", () => {
    const config = readGatewayEnv({ GATEWAY_API_KEYS: " sk-aaaaaaaaaaaaaaaa , sk-bbbbbbbbbbbbbbbb,," });
    expect(config.apiKeys).toEqual(["sk-aaaaaaaaaaaaaaaa", "sk-bbbbbbbbbbbbbbbb"]);
  });

  it("serves the playground outside production unless GATEWAY_PLAYGROUND says otherwise", () => {
    expect(readGatewayEnv({}).playground).toBe(true);
    expect(readGatewayEnv({ NODE_ENV: "production" }).playground).toBe(false);
    expect(readGatewayEnv({ NODE_ENV: "production", GATEWAY_PLAYGROUND: "on" }).playground).toBe(true);
    expect(readGatewayEnv({ GATEWAY_PLAYGROUND: "0" }).playground).toBe(false);
    expect(() => readGatewayEnv({ GATEWAY_PLAYGROUND: "maybe" })).toThrow(
      /GATEWAY_PLAYGROUND: expected one of 1\/true/,
    );
  });

  it("refuses short keys without printing them", () => {
    try {
      readGatewayEnv({ GATEWAY_API_KEYS: "short1", GATEWAY_PORT: "99999" });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(EnvError);
      expect((error as Error).message).toMatch(/GATEWAY_API_KEYS: expected API keys of at least 16 characters/);
      expect((error as Error).message).toMatch(/GATEWAY_PORT/);
      expect((error as Error).message).not.toContain("short1");
    }
  });
});

describe("readGatewayEnv: keys, quotas, replicas", () => {
  it("has the documented defaults", () => {
    const config = readGatewayEnv({});
    expect(config.defaultPolicy).toEqual({
      requestsPerMinute: 600,
      tokensPerMinute: 0,
      concurrentStreams: 16,
      maxTokens: 4096,
      maxChoices: 0,
      concurrentRequests: 8,
    });
    expect(config.ipRequestsPerMinute).toBe(60);
    expect(config.redis).toEqual({ url: undefined, prefix: "slm-gateway", failure: "open" });
    expect(config.corsOrigins).toEqual([]);
    expect(config.keysFile).toBeUndefined();
    expect(config.inferenceApiKey).toBeUndefined();
  });

  it("reads a list of inference replicas, trailing slashes dropped", () => {
    const config = readGatewayEnv({ INFERENCE_URL: "http://10.0.0.1:8081/, http://10.0.0.2:8081" });
    expect(config.inferenceUrls).toEqual(["http://10.0.0.1:8081", "http://10.0.0.2:8081"]);
  });

  it("accepts pre-hashed sha256: keys and refuses malformed ones without printing them", () => {
    const digest = "a".repeat(64);
    expect(readGatewayEnv({ GATEWAY_API_KEYS: `sha256:${digest}` }).apiKeys).toEqual([`sha256:${digest}`]);
    expect(() => readGatewayEnv({ GATEWAY_API_KEYS: "sha256:not-hex-0123456789" })).toThrow(
      /GATEWAY_API_KEYS: expected sha256: entries/,
    );
  });

  it("refuses a bad REDIS_URL, failure policy and CORS origin, naming each", () => {
    try {
      readGatewayEnv({
        REDIS_URL: "http://secret-host:6379",
        GATEWAY_REDIS_FAILURE: "maybe",
        GATEWAY_CORS_ORIGINS: "https://ok.example,bad origin",
      });
      expect.unreachable();
    } catch (error) {
      const message = (error as Error).message;
      expect(message).toMatch(/REDIS_URL/);
      expect(message).toMatch(/GATEWAY_REDIS_FAILURE/);
      expect(message).toMatch(/GATEWAY_CORS_ORIGINS/);
      expect(message).not.toContain("secret-host");
    }
  });
});

describe("readGatewayEnv: clients", () => {
  it("bounds slow bodies and connections per address by default; no connection cap behind trusted proxies", () => {
    const config = readGatewayEnv({});
    expect(config.limits).toMatchObject({ bodyTimeoutMs: 30_000, maxConnectionsPerIp: 64 });
    expect(config.modelsTtlMs).toBe(10_000);
    // Behind proxies every connection comes from one of them: capped there, unless set here explicitly.
    expect(readGatewayEnv({ GATEWAY_TRUST_PROXY_HOPS: "1" }).limits.maxConnectionsPerIp).toBe(0);
    expect(
      readGatewayEnv({ GATEWAY_TRUST_PROXY_HOPS: "1", GATEWAY_MAX_CONNECTIONS_PER_IP: "500" }).limits
        .maxConnectionsPerIp,
    ).toBe(500);
    expect(readGatewayEnv({ GATEWAY_MAX_CONNECTIONS_PER_IP: "0" }).limits.maxConnectionsPerIp).toBe(0);
    expect(() => readGatewayEnv({ GATEWAY_MAX_CONNECTIONS_PER_IP: "-1", GATEWAY_BODY_TIMEOUT_MS: "5" })).toThrow(
      /GATEWAY_BODY_TIMEOUT_MS[\s\S]*GATEWAY_MAX_CONNECTIONS_PER_IP|GATEWAY_MAX_CONNECTIONS_PER_IP[\s\S]*GATEWAY_BODY_TIMEOUT_MS/,
    );
  });
});

describe("readGatewayEnv: conversation affinity and cached tokens", () => {
  it("has the documented defaults", () => {
    const config = readGatewayEnv({});
    expect(config.affinity).toEqual({ enabled: true, spill: 2, ttlMs: 600_000 });
    expect(config.cachedTokenWeight).toBe(1);
  });

  it("reads them, and refuses a weight outside 0..1", () => {
    const config = readGatewayEnv({
      GATEWAY_AFFINITY: "off",
      GATEWAY_AFFINITY_SPILL: "4",
      GATEWAY_AFFINITY_TTL_MS: "60000",
      GATEWAY_CACHED_TOKEN_WEIGHT: "0.25",
    });
    expect(config.affinity).toEqual({ enabled: false, spill: 4, ttlMs: 60_000 });
    expect(config.cachedTokenWeight).toBe(0.25);
    expect(readGatewayEnv({ GATEWAY_CACHED_TOKEN_WEIGHT: "0" }).cachedTokenWeight).toBe(0);
    for (const bad of ["1.5", "-0.1", "half", "1.01"]) {
      expect(() => readGatewayEnv({ GATEWAY_CACHED_TOKEN_WEIGHT: bad })).toThrow(
        /GATEWAY_CACHED_TOKEN_WEIGHT: expected a number from 0 to 1/,
      );
    }
    expect(() => readGatewayEnv({ GATEWAY_AFFINITY_SPILL: "0" })).toThrow(/GATEWAY_AFFINITY_SPILL/);
  });
});
