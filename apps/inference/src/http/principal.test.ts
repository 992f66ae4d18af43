import { describe, expect, it } from "vitest";
import { SHARED_PRINCIPAL } from "../engine/index.ts";
import { requestPrincipal } from "./principal.ts";

describe("requestPrincipal", () => {
  it("takes the gateway's value in its safe shape", () => {
    expect(requestPrincipal("k_3f9a-0b")).toBe("k_3f9a-0b");
    expect(requestPrincipal("a".repeat(64))).toBe("a".repeat(64));
  });

  it("reads anything else as the shared principal", () => {
    for (const value of [undefined, "", "a".repeat(65), "key one", "k\n", "ключ", "k;rm", "../k"]) {
      expect(requestPrincipal(value)).toBe(SHARED_PRINCIPAL);
    }
  });
});
