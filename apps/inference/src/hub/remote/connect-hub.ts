import type { ArtifactRef, HostRef } from "../errors.ts";
import type { HubSession } from "../session.ts";
import { createHubFetch } from "./hub-fetch.ts";

/** What every Hub call of one artifact shares: the wrapped fetch, and the parameters @huggingface/hub takes. */
export interface HubConnection {
  hubUrl: string;
  fetch: typeof fetch;
  /** `Bearer <token>` for our own requests to the Hub origin, or undefined. */
  authorization: string | undefined;
  /** HF_HUB_DOWNLOAD_TIMEOUT in ms: a download's body silent that long is resumed. */
  timeoutMs: number;
  /** Spread into @huggingface/hub calls. */
  common: { hubUrl: string; fetch: typeof fetch; accessToken?: string };
}

export function connectHub(
  session: Pick<HubSession, "hubUrl" | "accessToken" | "retry" | "fetch" | "onEvent" | "downloadTimeoutMs">,
  artifact: ArtifactRef,
): HubConnection {
  const redirected = new Set<string>();
  const hub = createHubFetch({
    hubUrl: session.hubUrl,
    artifact,
    hadToken: session.accessToken !== undefined,
    retry: session.retry,
    timeoutMs: session.downloadTimeoutMs,
    ...(session.fetch ? { fetch: session.fetch } : {}),
    onRetry: ({ attempt, waitMs, reason }) => {
      const host = (reason as { host?: HostRef }).host;
      session.onEvent?.({
        level: "warn",
        msg: `Hub request failed (${reason.code}${host ? `, ${host.subject}` : ""}); retry ${attempt} of ${session.retry.retries} in ${waitMs} ms`,
        fields: { code: reason.code, attempt, waitMs },
      });
    },
    onRepoRedirect: ({ from, to }) => {
      if (redirected.has(to)) return;
      redirected.add(to);
      session.onEvent?.({
        level: "warn",
        msg:
          `the Hub redirects repo ${from} to ${to} (renamed or moved); following it, with the lockfile and the ` +
          `cache still keyed by ${from}: configure ${to} (and run \`pnpm models:lock\`) to stop this warning`,
        fields: { repo: from, redirectedTo: to },
      });
    },
  });
  return {
    hubUrl: session.hubUrl,
    fetch: hub.fetch,
    authorization: session.accessToken ? `Bearer ${session.accessToken}` : undefined,
    timeoutMs: session.downloadTimeoutMs,
    common: {
      hubUrl: session.hubUrl,
      fetch: hub.fetch,
      ...(session.accessToken ? { accessToken: session.accessToken } : {}),
    },
  };
}
