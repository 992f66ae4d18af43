import type { ArtifactRef } from "./errors.ts";
import type { EventSink } from "./events.ts";
import { createHubFetch } from "./hub-fetch.ts";
import type { RetrySettings } from "./retry-policy.ts";

export interface ConnectHubParams {
  hubUrl: string;
  accessToken?: string | undefined;
  retry: RetrySettings;
  artifact: ArtifactRef;
  fetch?: typeof fetch;
  onEvent?: EventSink;
}

/** What every Hub call of one artifact shares: the wrapped fetch, and the parameters @huggingface/hub takes. */
export interface HubConnection {
  hubUrl: string;
  fetch: typeof fetch;
  /** `Bearer <token>` for our own requests to the Hub origin, or undefined. */
  authorization: string | undefined;
  /** Spread into @huggingface/hub calls. */
  common: { hubUrl: string; fetch: typeof fetch; accessToken?: string };
}

export function connectHub(params: ConnectHubParams): HubConnection {
  const hub = createHubFetch({
    hubUrl: params.hubUrl,
    artifact: params.artifact,
    hadToken: params.accessToken !== undefined,
    retry: params.retry,
    ...(params.fetch ? { fetch: params.fetch } : {}),
    onRetry: ({ attempt, waitMs, reason }) =>
      params.onEvent?.({
        level: "warn",
        msg: `Hub request failed (${reason.code}); retry ${attempt} of ${params.retry.retries} in ${waitMs} ms`,
        fields: { code: reason.code, attempt, waitMs },
      }),
  });
  return {
    hubUrl: params.hubUrl,
    fetch: hub.fetch,
    authorization: params.accessToken ? `Bearer ${params.accessToken}` : undefined,
    common: { hubUrl: params.hubUrl, fetch: hub.fetch, ...(params.accessToken ? { accessToken: params.accessToken } : {}) },
  };
}
