import type { CdnStore } from "./cdn-store.ts";
import type { FaultController } from "./faults.ts";
import type { FakeRepo } from "./repo-store.ts";
import type { TokenStore } from "./tokens.ts";
import type { RequestLogEntry } from "./types.ts";

/** Everything the request handlers of both origins share. */
export interface HubState {
  readonly repos: Map<string, FakeRepo>;
  readonly tokens: TokenStore;
  readonly faults: FaultController;
  readonly cdn: CdnStore;
  readonly requests: RequestLogEntry[];
  readonly counters: { hubBytes: number; cdnBytes: number };
  readonly options: { honourExpand: boolean; cdnCacheHeader: boolean };
  hubUrl(): string;
  cdnUrl(): string;
}
