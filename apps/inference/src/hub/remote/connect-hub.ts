import type { ArtifactRef } from "../errors.ts";
import type { HubSession } from "../session.ts";
import { createHubFetch } from "./hub-fetch.ts";

/** What every Hub call of one artifact shares: the wrapped fetch, and the parameters @huggingface/hub takes. */
export interface HubConnection {
  hubUrl: string;
  fetch: typeof fetch;
  /** `Bearer <token>` for our own requests to the Hub origin, or undefined. */
  authorization: string | undefined;
  /** Spread into @huggingface/hub calls. */
  common: { hubUrl: string; fetch: typeof fetch; accessToken?: string };
}

export function connectHub(
  session: Pick<HubSession, "hubUrl" | "accessToken" | "retry" | "fetch" | "onEvent">,
  artifact: ArtifactRef,
): HubConnection {
  const hub = createHubFetch({
    hubUrl: session.hubUrl,
    artifact,
    hadToken: session.accessToken !== undefined,
    retry: session.retry,
    ...(session.fetch ? { fetch: session.fetch } : {}),
    onRetry: ({ attempt, waitMs, reason }) =>
      session.onEvent?.({
        level: "warn",
        msg: `Hub request failed (${reason.code}); retry ${attempt} of ${session.retry.retries} in ${waitMs} ms`,
        fields: { code: reason.code, attempt, waitMs },
      }),
  });
  return {
    hubUrl: session.hubUrl,
    fetch: hub.fetch,
    authorization: session.accessToken ? `Bearer ${session.accessToken}` : undefined,
    common: {
      hubUrl: session.hubUrl,
      fetch: hub.fetch,
      ...(session.accessToken ? { accessToken: session.accessToken } : {}),
    },
  };
}
