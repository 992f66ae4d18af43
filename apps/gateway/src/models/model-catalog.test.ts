import { describe, expect, it } from "vitest";
import { createModelCatalog } from "./model-catalog.ts";

const model = (id: string) => ({ id, object: "model" as const, created: 1, owned_by: "x" });

describe("model catalog", () => {
  it("caches the served list for its TTL, with one fetch for concurrent callers", async () => {
    let now = 0;
    let fetches = 0;
    const catalog = createModelCatalog({
      fetchModels: async () => {
        fetches++;
        return [model("m")];
      },
      ttlMs: 1000,
      now: () => now,
    });
    expect(catalog.fresh()).toBeUndefined();
    await Promise.all([catalog.list(), catalog.list(), catalog.list()]);
    expect(fetches).toBe(1);
    expect(catalog.fresh()).toEqual([model("m")]);
    now = 1500;
    expect(catalog.fresh()).toBeUndefined();
    await catalog.list();
    expect(fetches).toBe(2);
  });

  it("keeps the last good list while refreshing fails, and fails without one", async () => {
    let now = 0;
    let up = true;
    const catalog = createModelCatalog({
      fetchModels: async () => {
        if (!up) throw new Error("down");
        return [model("m")];
      },
      ttlMs: 1000,
      now: () => now,
    });
    await catalog.list();
    up = false;
    now = 5000;
    expect(await catalog.list()).toEqual([model("m")]);
    const empty = createModelCatalog({ fetchModels: async () => Promise.reject(new Error("down")) });
    await expect(empty.list()).rejects.toThrow("down");
  });
});
