import { describe, expect, it } from "vitest";
import { describeError, SafeError } from "./safe-error.ts";

class ExampleError extends SafeError {
  override readonly name = "ExampleError";
  readonly code = "example_problem";
}

describe("describeError", () => {
  it("shows a SafeError's code and message", () => {
    expect(describeError(new ExampleError("the example failed"))).toEqual({
      code: "example_problem",
      message: "the example failed",
    });
  });

  it("names a foreign error by its class only, never quoting its message", () => {
    const foreign = new TypeError("fetch failed: https://huggingface.co/x?token=hf_secret");
    const described = describeError(foreign, "startup_failed", "during startup");
    expect(described).toEqual({ code: "startup_failed", message: "unexpected TypeError during startup" });
    expect(JSON.stringify(described)).not.toContain("hf_secret");
  });

  it("describes a thrown non-error", () => {
    expect(describeError("boom")).toEqual({ code: "unexpected_error", message: "unexpected failure" });
  });
});
