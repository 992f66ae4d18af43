import { describe, expect, it } from "vitest";
import { EnvError, readGatewayEnv } from "../index.ts";

describe("readGatewayEnv", () => {
  it("has the documented defaults and closes by default", () => {
    const config = readGatewayEnv({});
    expect(config.server).toEqual({ host: "127.0.0.1", port: 8080 });
    expect(config.inferenceUrl).toBe("http://127.0.0.1:8081");
    expect(config.apiKeys).toEqual([]);
    expect(config.allowAnonymous).toBe(false);
  });

  it("splits GATEWAY_API_KEYS", () => {
    const config = readGatewayEnv({ GATEWAY_API_KEYS: " sk-aaaaaaaaaaaaaaaa , sk-bbbbbbbbbbbbbbbb,," });
    expect(config.apiKeys).toEqual(["sk-aaaaaaaaaaaaaaaa", "sk-bbbbbbbbbbbbbbbb"]);
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
