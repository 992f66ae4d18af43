import { describe, expect, it } from "vitest";
import { isSignInToken, signInTokenFromFragment, tokenExpiry } from "./sign-in-token.ts";

const b64url = (value: unknown) =>
  btoa(JSON.stringify(value)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
const TOKEN = `${b64url({ alg: "HS256" })}.${b64url({ sub: "u", exp: 1_900_000_000 })}.c2lnbmF0dXJl`;

describe("sign-in tokens in the playground", () => {
  it("tells a token from an API key", () => {
    expect(isSignInToken(TOKEN)).toBe(true);
    expect(isSignInToken("sk-slm-abcdef0123456789")).toBe(false);
    expect(isSignInToken("a.b")).toBe(false);
  });

  it("reads a token from the fragment, and nothing else", () => {
    expect(signInTokenFromFragment(`#token=${TOKEN}`)).toBe(TOKEN);
    expect(signInTokenFromFragment(`#other=1&token=${TOKEN}`)).toBe(TOKEN);
    expect(signInTokenFromFragment("")).toBeNull();
    expect(signInTokenFromFragment("#token=sk-a-key-0123456789")).toBeNull();
  });

  it("reads the expiry for display, without trusting anything else", () => {
    expect(tokenExpiry(TOKEN)?.getTime()).toBe(1_900_000_000_000);
    expect(tokenExpiry(`${b64url({ alg: "HS256" })}.${b64url({ sub: "u" })}.x`)).toBeNull();
    expect(tokenExpiry("a.%%%.c")).toBeNull();
  });
});
