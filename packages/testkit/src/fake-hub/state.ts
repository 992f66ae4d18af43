import type { CdnStore } from "./cdn-store.ts";
import type { FaultController } from "./faults.ts";
import type { FakeRepo } from "./repo-store.ts";
import type { TokenStore } from "./tokens.ts";
import type { FakeHubSettings, RequestLogEntry } from "./types.ts";

/** Everything the request handlers of the three origins share. */
export interface HubState {
  readonly repos: Map<string, FakeRepo>;
  /** Old repo id -> the id it was renamed to (requests naming the old one get a relative 307). */
  readonly renamed: ReadonlyMap<string, string>;
  readonly tokens: TokenStore;
  readonly faults: FaultController;
  /** LFS objects behind the CDN origin's signed URLs. */
  readonly cdn: CdnStore;
  /** Xet-stored files behind the bridge origin's signed URLs. */
  readonly bridge: CdnStore;
  readonly requests: RequestLogEntry[];
  readonly counters: { hubBytes: number; cdnBytes: number; bridgeBytes: number };
  readonly options: { honourExpand: boolean; cdnCacheHeader: boolean };
  /** The switches a test may flip at any time (the same object as `hub.settings`). */
  readonly settings: FakeHubSettings;
  hubUrl(): string;
  cdnUrl(): string;
  bridgeUrl(): string;
}
