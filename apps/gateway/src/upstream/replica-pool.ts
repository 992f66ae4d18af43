import type { Logger } from "../logger.ts";
import { noMetrics, type GatewayMetrics } from "../metrics/metrics.ts";
import type { AffinityKey } from "./affinity-key.ts";
import type { AffinityMemory } from "./affinity-memory.ts";

/**
 * Inference replicas: which one takes a request, and which are up. Health decides first: only healthy replicas are
 * candidates (when none is healthy, every replica is tried: health may be stale, and a single replica that just
 * restarted must not wait for the next probe), each with a cap on requests in flight (beyond it on every candidate the
 * gateway sheds load instead of queueing without bound). Among them:
 *
 * - A request without an affinity key (embeddings, the model list, affinity off) goes to the replica with the fewest
 *   requests in flight, ties spread by rotation.
 * - A request with one (a conversation's: affinity-key.ts) goes where its conversation's prefix is: the replica the
 *   affinity memory says it was last served by (affinity-memory.ts: only once it left its home), else its home, the
 *   winner of rendezvous (highest-random-weight) hashing of the key over the replicas: every gateway picks the same
 *   one whatever the order of INFERENCE_URL. When that replica is down (or refused the request), the winner among
 *   the healthy ones: only its own keys move, each to a replica of its own. Unless the replica chosen so is
 *   saturated - at its cap, or `spill` (GATEWAY_AFFINITY_SPILL) or more requests in flight ahead of the least-loaded
 *   candidate, so that a turn waits for a free sequence rather than for another conversation's generation - then the
 *   request spills to the least-loaded one. A conversation served anywhere but its home is remembered there (and
 *   while it is remembered, wherever it goes next): it follows its state, also when its home comes back. Counted as
 *   `hit` (served where its state is), `spill`, or `miss` (the replica holding its state is down or refused it:
 *   another one evaluates its prefix again).
 *
 * Active health checks probe each replica's /ready; a refused connection marks one down at once.
 */

export interface Replica {
  /** Position in INFERENCE_URL: what logs and metrics name it by (never its address). */
  readonly name: string;
  /** A hash of its URL: its identity in rendezvous hashing and in the affinity memory (the same on every gateway). */
  readonly id: string;
  readonly url: string;
  outstanding: number;
  healthy: boolean;
}

export interface AffinityOptions {
  /** A replica is saturated with this many more requests in flight than the least-loaded candidate. Default 2. */
  spill?: number;
  /** Where conversations were last served. Default: in process, 10 minutes. */
  memory: AffinityMemory;
}

export interface ReplicaPoolOptions {
  urls: readonly string[];
  /** Requests in flight per replica. Default 512. */
  maxInflight?: number;
  /** Conversation-affine routing (GATEWAY_AFFINITY); absent: least-loaded only. */
  affinity?: AffinityOptions | undefined;
  /** Probe: the HTTP status of a replica's /ready, or null when unreachable. */
  probe?: (replica: Replica) => Promise<number | null>;
  logger?: Logger;
  metrics?: GatewayMetrics;
}

export interface ReplicaPool {
  readonly replicas: readonly Replica[];
  /** Whether requests' affinity keys are used (affinity on, and more than one replica to choose from). */
  readonly affine: boolean;
  /** Takes a slot on the least-loaded replica (not `exclude`); undefined when every candidate is at its cap. */
  acquire(exclude?: Replica): Replica | undefined;
  /**
   * Takes a slot on the replica for a request with affinity key `key` (see the header; without a key or affinity,
   * `acquire`); undefined when every candidate is at its cap.
   */
  acquireFor(key: AffinityKey | string | undefined, exclude?: Replica): Promise<Replica | undefined>;
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

export const DEFAULT_AFFINITY_SPILL = 2;

/** A 53-bit string hash (cyrb53): fast, well spread, the same in every process. */
export function hash53(text: string, seed = 0): number {
  let h1 = 0xdeadbeef ^ seed;
  let h2 = 0x41c6ce57 ^ seed;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}

/** Rendezvous hashing: the candidate with the highest weight for `key` (the same on every gateway). */
export function rendezvous<R extends Pick<Replica, "id">>(key: string, candidates: readonly R[]): R | undefined {
  let best: R | undefined;
  let bestWeight = -1;
  for (const r of candidates) {
    const weight = hash53(`${r.id}\u0000${key}`);
    if (weight > bestWeight) {
      best = r;
      bestWeight = weight;
    }
  }
  return best;
}

export function createReplicaPool(options: ReplicaPoolOptions): ReplicaPool {
  const maxInflight = options.maxInflight ?? 512;
  const metrics = options.metrics ?? noMetrics;
  const replicas: Replica[] = options.urls.map((url, i) => {
    const normalized = url.replace(/\/+$/, "");
    return { name: String(i), id: hash53(normalized).toString(16), url: normalized, outstanding: 0, healthy: true };
  });
  const affinity = replicas.length > 1 ? options.affinity : undefined;
  const spill = Math.max(1, affinity?.spill ?? DEFAULT_AFFINITY_SPILL);
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

  function take(replica: Replica): Replica {
    rotation = (rotation + 1) % replicas.length;
    replica.outstanding++;
    metrics.upstreamInFlight(++outstanding);
    return replica;
  }

  function acquire(exclude?: Replica): Replica | undefined {
    const anyHealthy = replicas.some((r) => r.healthy && r !== exclude);
    const replica = pick(anyHealthy, exclude);
    return replica === undefined ? undefined : take(replica);
  }

  async function acquireFor(affine: AffinityKey | string | undefined, exclude?: Replica): Promise<Replica | undefined> {
    if (affinity === undefined || affine === undefined) return acquire(exclude);
    const { key, origin } = typeof affine === "string" ? { key: affine, origin: undefined } : affine;
    // A conversation not remembered under its key yet (a Responses chain's second turn) is where its first turn was.
    const remembered =
      (await affinity.memory.recall(key)) ?? (origin === undefined ? undefined : await affinity.memory.recall(origin));
    // Synchronous from here: no other request takes a slot between the choice and the count.
    const healthy = replicas.filter((r) => r.healthy && r !== exclude);
    if (healthy.length === 0) return acquire(exclude); // none healthy: try them all, as without affinity
    const least = pick(true, exclude);
    if (least === undefined) return undefined; // every healthy replica at its cap: shed load
    // Where its state is: the replica it was last served by, else its home (the winner over all replicas of the key
    // its conversation began with).
    const home = rendezvous(origin ?? key, replicas)!;
    const holder = remembered === undefined ? home : (replicas.find((r) => r.id === remembered) ?? home);
    const missed = !holder.healthy || holder === exclude;
    const preferred = missed ? rendezvous(origin ?? key, healthy)! : holder;
    const saturated = preferred.outstanding >= maxInflight || preferred.outstanding >= least.outstanding + spill;
    const chosen = saturated ? least : preferred;
    metrics.affinity(saturated ? "spill" : missed ? "miss" : "hit");
    // Remembered once off its home (no entry means "at home"), and refreshed while remembered; a key with an origin
    // always (its home is its origin's, which may change: a Responses chain's next instructions).
    if (remembered !== undefined || chosen !== home || origin !== undefined) affinity.memory.remember(key, chosen.id);
    return take(chosen);
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
    affine: affinity !== undefined,
    acquire,
    acquireFor,
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
