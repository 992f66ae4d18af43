/**
 * What the gateway counts, as an interface: the core records through it and never imports a metrics library, so it
 * stays web-standard. `prometheus.ts` implements it with prom-client (which runs on Node and under Deno's npm
 * compatibility alike); tests and embedders may pass `noMetrics` or their own.
 */

export type RateLimitReason = "requests" | "tokens" | "streams" | "inflight" | "ip";
export type QuotaStoreEvent = "error" | "fail_open" | "fail_closed";
/**
 * Where a request with an affinity key went: where its state is, off a saturated replica (spill), or elsewhere because
 * the replica holding its state was down (miss).
 */
export type AffinityOutcome = "hit" | "spill" | "miss";

export interface GatewayMetrics {
  /** One finished request (response head sent). */
  request(route: string, status: number, keyId: string): void;
  /** A request refused with 429, by which quota. */
  rateLimited(reason: RateLimitReason): void;
  /** Seconds from sending to inference until its response head (or failure). */
  upstreamLatency(route: string, outcome: string, seconds: number): void;
  streamOpened(): void;
  streamClosed(): void;
  /** Requests this gateway has in flight to inference now (all replicas). */
  upstreamInFlight(count: number): void;
  /** A lease of this gateway's requests (`streams`: a stream slot) taken (+1) or given back (-1). */
  leasesHeld(lease: string, delta: number): void;
  /** The shared quota store (Redis) failed a call, and which policy applied. */
  quotaStore(event: QuotaStoreEvent): void;
  quotaStoreUp(up: boolean): void;
  replicaUp(replica: string, up: boolean): void;
  /** A request with an affinity key was given a replica (upstream/replica-pool.ts). */
  affinity(outcome: AffinityOutcome): void;
  keysReloaded(ok: boolean): void;
}

export interface MetricsEndpoint {
  contentType: string;
  render(): Promise<string>;
}

const nothing = () => {};
export const noMetrics: GatewayMetrics = {
  request: nothing,
  rateLimited: nothing,
  upstreamLatency: nothing,
  streamOpened: nothing,
  streamClosed: nothing,
  upstreamInFlight: nothing,
  leasesHeld: nothing,
  quotaStore: nothing,
  quotaStoreUp: nothing,
  replicaUp: nothing,
  affinity: nothing,
  keysReloaded: nothing,
};
