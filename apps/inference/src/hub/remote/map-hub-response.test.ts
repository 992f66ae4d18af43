import { describe, expect, it } from "vitest";
import { hostOf } from "./hosts.ts";
import { mapHubResponse, rateLimitResetSeconds, retryAfterSeconds, safeHubMessage } from "./map-hub-response.ts";

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
    [res(429, { ratelimit: '"api";r=0;t=55' }), true, "rate_limited", /retry after 55s/],
    [
      res(403, { "x-error-message": "Access to this resource is disabled." }),
      false,
      "repo_disabled",
      /^the Hub refuses access to the repository: "Access to this resource is disabled\." \(/,
    ],
    [
      res(403, { "x-error-message": "Forbidden: see https://hf.co/x?token=abc" }),
      false,
      "unexpected_hub_response",
      /HTTP 403: "Forbidden: see https:\/\/hf\.co\/x"/,
    ],
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

  it("reads a reply from the CDN or the Xet bridge by its status only, naming the host", () => {
    const bridge = hostOf(
      "https://cas-bridge.xethub.hf.co/xet-bridge-us/abc/def?X-Amz-Signature=s",
      "https://huggingface.co",
    );
    const cdn = hostOf("https://cdn-lfs.hf.co/repos/ab/cd/x?Expires=1&Signature=s", "https://huggingface.co");
    expect(bridge).toEqual({ subject: "the Xet bridge cas-bridge.xethub.hf.co", isHub: false });
    expect(cdn).toEqual({ subject: "the download host cdn-lfs.hf.co", isHub: false });
    expect(hostOf("https://huggingface.co/api/models/a/b", "https://huggingface.co").subject).toBe(
      "the Hub at huggingface.co",
    );
    // No Hub headers there: a 401 is not "repository not found", a 403 not "disabled".
    const refused = mapHubResponse(res(401, { "x-error-code": "RepoNotFound" }), ref, false, cdn);
    expect([refused.code, refused.message]).toEqual([
      "download_refused",
      "the download host cdn-lfs.hf.co refused the download (HTTP 401) (repo acme/m, revision v1, file m.gguf)",
    ]);
    expect(mapHubResponse(res(400), ref, false, bridge).message).toMatch(
      /^the Xet bridge cas-bridge\.xethub\.hf\.co refused the download \(HTTP 400\)/,
    );
    expect(mapHubResponse(res(503), ref, false, bridge).message).toMatch(
      /^the Xet bridge cas-bridge\.xethub\.hf\.co is unreachable \(HTTP 503\)/,
    );
  });

  it("reads the wait of a 429 from RateLimit first (t, or the older reset), then Retry-After", () => {
    expect(rateLimitResetSeconds(new Headers({ ratelimit: '"api";r=0;t=42', "retry-after": "3" }))).toBe(42);
    expect(rateLimitResetSeconds(new Headers({ ratelimit: "limit=500, remaining=0, reset=17" }))).toBe(17);
    expect(rateLimitResetSeconds(new Headers({ "retry-after": "3" }))).toBe(3);
    expect(
      rateLimitResetSeconds(new Headers({ "ratelimit-policy": '"fixed window";"api";q=500;w=300' })),
    ).toBeUndefined();
  });

  it("passes a Hub message on as one short line, any URL cut before its query", () => {
    expect(safeHubMessage("line one\nline two https://x.test/a/b?sig=secret#frag end")).toBe(
      "line one line two https://x.test/a/b end",
    );
    expect(safeHubMessage("x".repeat(500))).toHaveLength(200);
    expect(safeHubMessage(null)).toBe("");
  });

  it("reads Retry-After as seconds or as a date", () => {
    expect(retryAfterSeconds(new Headers({ "retry-after": "3" }))).toBe(3);
    const inTen = new Date(Date.now() + 10_000).toUTCString();
    expect(retryAfterSeconds(new Headers({ "retry-after": inTen }))).toBeGreaterThanOrEqual(9);
    expect(retryAfterSeconds(new Headers())).toBeUndefined();
  });
});
