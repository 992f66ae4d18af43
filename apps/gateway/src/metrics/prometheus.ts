import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { GatewayMetrics, MetricsEndpoint } from "./metrics.ts";

/** GatewayMetrics on prom-client, with its own registry (so several apps in one process - tests - do not clash). */

export interface PrometheusMetricsOptions {
  /** Process metrics (CPU, memory, event loop lag). Default true. */
  defaultMetrics?: boolean;
}

export function createPrometheusMetrics(options: PrometheusMetricsOptions = {}): {
  metrics: GatewayMetrics;
  endpoint: MetricsEndpoint;
} {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: "gateway_" });
  const registers = [registry];

  const requests = new Counter({
    name: "gateway_requests_total",
    help: "Requests by route, status and API key id (anonymous for none).",
    labelNames: ["route", "status", "key_id"] as const,
    registers,
  });
  const rateLimited = new Counter({
    name: "gateway_rate_limited_total",
    help: "Requests refused with 429, by the quota that refused them.",
    labelNames: ["reason"] as const,
    registers,
  });
  const upstream = new Histogram({
    name: "gateway_upstream_latency_seconds",
    help: "Time from forwarding a request to inference until its response head.",
    labelNames: ["route", "outcome"] as const,
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers,
  });
  const openStreams = new Gauge({ name: "gateway_open_streams", help: "Streaming responses in progress.", registers });
  const inFlight = new Gauge({
    name: "gateway_upstream_in_flight",
    help: "Requests in flight to inference (all replicas).",
    registers,
  });
  const leases = new Gauge({
    name: "gateway_leases_held",
    help: "Leases held by this gateway's requests now, by kind (streams: concurrent-stream slots).",
    labelNames: ["lease"] as const,
    registers,
  });
  leases.set({ lease: "streams" }, 0);
  const store = new Counter({
    name: "gateway_quota_store_events_total",
    help: "Failures of the shared quota store (Redis), and whether the request went on with a local limiter (fail_open) or was refused (fail_closed).",
    labelNames: ["event"] as const,
    registers,
  });
  const storeUp = new Gauge({
    name: "gateway_quota_store_up",
    help: "1 while the shared quota store answers, 0 otherwise.",
    registers,
  });
  const replicaUp = new Gauge({
    name: "gateway_replica_up",
    help: "Health of each inference replica (by its position in INFERENCE_URL, never its address).",
    labelNames: ["replica"] as const,
    registers,
  });
  const affinity = new Counter({
    name: "gateway_affinity_total",
    help: "Requests with a conversation's affinity key, by outcome: hit (the replica its key pointed to), spill (that replica was saturated: the least-loaded one), miss (its remembered replica was down: another one).",
    labelNames: ["outcome"] as const,
    registers,
  });
  for (const outcome of ["hit", "spill", "miss"] as const) affinity.inc({ outcome }, 0);
  const reloads = new Counter({
    name: "gateway_key_reloads_total",
    help: "Key reloads, by result.",
    labelNames: ["result"] as const,
    registers,
  });

  // Label children cached by their values: prom-client hashes the label set on every call otherwise.
  const requestChildren = new Map<string, ReturnType<typeof requests.labels>>();
  const latencyChildren = new Map<string, ReturnType<typeof upstream.labels>>();
  const metrics: GatewayMetrics = {
    request: (route, status, keyId) => {
      const id = `${route}\u0000${status}\u0000${keyId}`;
      let child = requestChildren.get(id);
      if (child === undefined) requestChildren.set(id, (child = requests.labels(route, String(status), keyId)));
      child.inc();
    },
    rateLimited: (reason) => rateLimited.inc({ reason }),
    upstreamLatency: (route, outcome, seconds) => {
      const id = `${route}\u0000${outcome}`;
      let child = latencyChildren.get(id);
      if (child === undefined) latencyChildren.set(id, (child = upstream.labels(route, outcome)));
      child.observe(seconds);
    },
    streamOpened: () => openStreams.inc(),
    streamClosed: () => openStreams.dec(),
    upstreamInFlight: (count) => inFlight.set(count),
    leasesHeld: (lease, delta) => leases.inc({ lease }, delta),
    quotaStore: (event) => store.inc({ event }),
    quotaStoreUp: (up) => storeUp.set(up ? 1 : 0),
    replicaUp: (replica, up) => replicaUp.set({ replica }, up ? 1 : 0),
    affinity: (outcome) => affinity.inc({ outcome }),
    keysReloaded: (ok) => reloads.inc({ result: ok ? "ok" : "failed" }),
  };
  return { metrics, endpoint: { contentType: registry.contentType, render: () => registry.metrics() } };
}
