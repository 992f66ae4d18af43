import { describe, expect, it } from "vitest";
import { acceptRequestId, REQUEST_ID_PATTERN } from "./request-id.ts";

describe("request ids", () => {
  it("keeps ids of the safe shape", () => {
    for (const id of ["req-abc.123", "01J9ZQ4X8K", "trace:4bf92f3577b34da6", "a_b", "x".repeat(128)])
      expect(acceptRequestId(id)).toBe(id);
  });

  it("replaces anything else with a fresh UUID, never a trimmed copy", () => {
    for (const id of [
      "",
      "x".repeat(129),
      "a b",
      "a=b",
      'a"b',
      "a\nb",
      "a\u0000b",
      '{"level":"error"}',
      "ünïcode",
      "<script>",
      "%0A",
      "a/b",
    ]) {
      const accepted = acceptRequestId(id);
      expect(accepted).not.toBe(id);
      expect(accepted).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(REQUEST_ID_PATTERN.test(accepted)).toBe(true);
    }
    expect(acceptRequestId(undefined)).toMatch(/^[0-9a-f-]{36}$/);
  });
});
