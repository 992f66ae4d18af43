import type { Logger } from "../logger.ts";
import { noMetrics, type GatewayMetrics } from "../metrics/metrics.ts";

/**
 * Inference replicas: least-outstanding-requests choice among the healthy ones, with a cap on requests in flight per
 * replica (beyond it the gateway sheds load instead of queueing without bound), active health checks of each
 * replica's /ready, and passive marking when a connection fails. When none is healthy, every replica is tried
 * (health may be stale; a single replica that just restarted must not wait for the next probe).
 */

export interface Replica {
  /** Position in INFERENCE_URL: what logs and metrics name it by (never its address). */
  readonly name: string;
  readonly url: string;
  outstanding: number;
  healthy: boolean;
}

export interface ReplicaPoolOptions {
  urls: readonly string[];
  /** Requests in flight per replica. Default 512. */
  maxInflight?: number;
  /** Probe: the HTTP status of a replica's /ready, or null when unreachable. */
  probe?: (replica: Replica) => Promise<number | null>;
  logger?: Logger;
  metrics?: GatewayMetrics;
}

export interface ReplicaPool {
  readonly replicas: readonly Replica[];
  /** Takes a slot on the best replica (not `exclude`); undefined when every candidate is at its cap. */
  acquire(exclude?: Replica): Replica | undefined;
  release(replica: Replica): void;
  /** Marks a replica healthy or not (logs and counts transitions). */
  setHealth(replica: Replica, healthy: boolean): void;
  /** Probes every replica once; resolves with the best status seen (2xx if any is ready), or null. */
  checkAll(): Promise<number | null>;
  /**
   * The best status of the last check, for the public /ready: answered from the periodic checker's state, so a
   * flood of probes never becomes a flood of upstream requests. Only when no check is younger than `maxAgeMs` does
   * it check, and concurrent callers share that one check.
   */
  readiness(maxAgeMs: number): Promise<number | null>;
  /** Probes every `intervalMs` until stop(). */
  startHealthChecks(intervalMs: number): void;
  stop(): void;
}

export function createReplicaPool(options: ReplicaPoolOptions): ReplicaPool {
  const maxInflight = options.maxInflight ?? 512;
  const metrics = options.metrics ?? noMetrics;
  const replicas: Replica[] = options.urls.map((url, i) => ({
    name: String(i),
    url: url.replace(/\/+$/, ""),
    outstanding: 0,
    healthy: true,
  }));
  let rotation = 0;
  let timer: ReturnType<typeof setInterval> | undefined;
  let last: { status: number | null; at: number } | undefined;
  let inflight: Promise<number | null> | undefined;
  /** Requests in flight over all replicas (the gateway_upstream_in_flight gauge). */
  let outstanding = 0;
  for (const r of replicas) metrics.replicaUp(r.name, true);
  metrics.upstreamInFlight(0);

  function pick(healthyOnly: boolean, exclude: Replica | undefined): Replica | undefined {
    let best: Replica | undefined;
    const n = replicas.length;
    // Start at a rotating offset so that ties spread across replicas.
    for (let k = 0; k < n; k++) {
      const r = replicas[(rotation + k) % n]!;
      if (r === exclude || r.outstanding >= maxInflight || (healthyOnly && !r.healthy)) continue;
      if (best === undefined || r.outstanding < best.outstanding) best = r;
    }
    return best;
  }

  function setHealth(replica: Replica, healthy: boolean): void {
    if (replica.healthy === healthy) return;
    replica.healthy = healthy;
    metrics.replicaUp(replica.name, healthy);
    if (healthy) options.logger?.info("inference replica healthy", { replica: replica.name });
    else options.logger?.warn("inference replica unhealthy", { replica: replica.name });
  }

  /** One check at a time: the periodic checker and /ready callers share a check in flight. */
  function checkAll(): Promise<number | null> {
    inflight ??= runCheck().finally(() => (inflight = undefined));
    return inflight;
  }

  async function runCheck(): Promise<number | null> {
    if (!options.probe) return null;
    const statuses = await Promise.all(
      replicas.map(async (r) => {
        const status = await options.probe!(r).catch(() => null);
        setHealth(r, status !== null && status >= 200 && status < 300);
        return status;
      }),
    );
    const best = statuses.find((s) => s !== null && s >= 200 && s < 300) ?? statuses.find((s) => s !== null) ?? null;
    last = { status: best, at: Date.now() };
    return best;
  }

  return {
    replicas,
    acquire(exclude) {
      const anyHealthy = replicas.some((r) => r.healthy && r !== exclude);
      const replica = pick(anyHealthy, exclude);
      if (replica === undefined) return undefined;
      rotation = (rotation + 1) % replicas.length;
      replica.outstanding++;
      metrics.upstreamInFlight(++outstanding);
      return replica;
    },
    release(replica) {
      replica.outstanding--;
      metrics.upstreamInFlight(--outstanding);
    },
    setHealth,
    checkAll,
    readiness(maxAgeMs) {
      if (last !== undefined && Date.now() - last.at < maxAgeMs) return Promise.resolve(last.status);
      return checkAll();
    },
    startHealthChecks(intervalMs) {
      if (timer !== undefined || !options.probe) return;
      timer = setInterval(() => void checkAll(), intervalMs);
      // Node: do not keep the process alive for probes alone (Deno's timers have no unref; deno.ts stops the pool).
      (timer as { unref?: () => void }).unref?.();
    },
    stop() {
      if (timer !== undefined) clearInterval(timer);
      timer = undefined;
    },
  };
}
