import { objectId } from "./hashing.ts";
import type { TokenOptions } from "./types.ts";

export interface StoredToken {
  token: string;
  user: string;
  canRead: readonly string[] | "all";
  gatedApproved: readonly string[] | "all";
  createdAt: Date;
}

/** Outcome of reading the `Authorization` header. */
export type Credentials = { kind: "anonymous" } | { kind: "invalid" } | { kind: "token"; token: StoredToken };

export class TokenStore {
  private readonly tokens = new Map<string, StoredToken>();

  add(token: string, options: TokenOptions = {}): void {
    if (!token.startsWith("hf_")) {
      throw new TypeError(`fake hub: tokens must start with "hf_", got ${JSON.stringify(token)}`);
    }
    this.tokens.set(token, {
      token,
      user: options.user ?? "fake-user",
      canRead: options.canRead ?? [],
      gatedApproved: options.gatedApproved ?? [],
      createdAt: new Date(),
    });
  }

  remove(token: string): void {
    this.tokens.delete(token);
  }

  /** Reads `Authorization: Bearer <token>`. A header that is present but unknown is `invalid`. */
  fromHeader(header: string | undefined): Credentials {
    if (header === undefined || header.trim() === "") {
      return { kind: "anonymous" };
    }
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header.trim());
    const stored = match?.[1] ? this.tokens.get(match[1]) : undefined;
    return stored ? { kind: "token", token: stored } : { kind: "invalid" };
  }
}

export function canRead(token: StoredToken, repoId: string): boolean {
  return token.canRead === "all" || token.canRead.includes(repoId);
}

export function isGatedApproved(token: StoredToken, repoId: string): boolean {
  return token.gatedApproved === "all" || token.gatedApproved.includes(repoId);
}

/** Body of `GET /api/whoami-v2`. */
export function whoamiBody(token: StoredToken): Record<string, unknown> {
  const fineGrained = token.canRead !== "all";
  return {
    type: "user",
    id: objectId(`user:${token.user}`),
    name: token.user,
    fullname: token.user,
    email: `${token.user}@example.invalid`,
    emailVerified: true,
    canPay: false,
    isPro: false,
    periodEnd: null,
    avatarUrl: "/avatars/fake.svg",
    orgs: [],
    auth: {
      type: "access_token",
      accessToken: {
        displayName: `fake-token-${token.token.slice(3, 9)}`,
        role: fineGrained ? "fineGrained" : "read",
        createdAt: token.createdAt.toISOString(),
        ...(fineGrained
          ? {
              fineGrained: {
                canReadGatedRepos: token.gatedApproved === "all",
                global: [],
                scoped: (token.canRead as readonly string[]).map((name) => ({
                  entity: { _id: objectId(name), type: "model", name },
                  permissions: ["repo.content.read"],
                })),
              },
            }
          : {}),
      },
    },
  };
}
