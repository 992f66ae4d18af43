import { describe, expect, it } from "vitest";
import { mapHubResponse, retryAfterSeconds } from "./map-hub-response.ts";

const ref = { repo: "acme/m", revision: "v1", file: "m.gguf" };
const res = (status: number, headers: Record<string, string> = {}) => new Response("{}", { status, headers });

describe("mapHubResponse", () => {
  it.each([
    [res(401, { "x-error-code": "RepoNotFound" }), false, "repo_not_found", /private and no HF_TOKEN/],
    [res(404, { "x-error-code": "RepoNotFound" }), true, "repo_not_found", /token has no access/],
    [res(401, { "x-error-code": "GatedRepo" }), false, "gated_repo", /set HF_TOKEN/],
    [res(403, { "x-error-code": "GatedRepo" }), true, "gated_repo", /not been granted/],
    [res(404, { "x-error-code": "RevisionNotFound" }), false, "revision_not_found", /revision not found/],
    [res(404, { "x-error-code": "EntryNotFound" }), false, "file_not_found", /file not found/],
    [
      res(401, { "x-error-message": "Invalid credentials in Authorization header" }),
      true,
      "invalid_token",
      /refused the token/,
    ],
    [res(429, { "retry-after": "7" }), false, "rate_limited", /retry after 7s/],
    [res(503), false, "hub_unavailable", /HTTP 503/],
  ])("maps %#", (response, hadToken, code, message) => {
    const error = mapHubResponse(response, ref, hadToken);
    expect(error.code).toBe(code);
    expect(error.message).toMatch(message);
    expect(error.message).toContain("repo acme/m, revision v1, file m.gguf");
  });

  it("retries 429 and 5xx, and lets a cached copy stand in for them only", () => {
    const statuses = [401, 403, 404, 409, 429, 500, 502, 503];
    const behaviour = statuses.map((status) => {
      const error = mapHubResponse(res(status), ref, false);
      return [status, error.retryable, error.cacheMayStandIn];
    });
    expect(behaviour).toEqual(
      statuses.map((status) => [status, status === 429 || status >= 500, status === 429 || status >= 500]),
    );
  });

  it("reads Retry-After as seconds or as a date", () => {
    expect(retryAfterSeconds(new Headers({ "retry-after": "3" }))).toBe(3);
    const inTen = new Date(Date.now() + 10_000).toUTCString();
    expect(retryAfterSeconds(new Headers({ "retry-after": inTen }))).toBeGreaterThanOrEqual(9);
    expect(retryAfterSeconds(new Headers())).toBeUndefined();
  });
});
