/**
 * Everything between the gateway and its inference replicas: the replica pool (which replica takes a request, and
 * which are up), the forwarder (one exchange: deadline, headers, errors), the SSE relay, and what an exchange costs
 * in tokens. The transport itself is the runtime's (fetch, or runtime/node-upstream.ts on Node).
 */

export { createForwarder, type ForwardOptions, type Forwarder } from "./forward.ts";
export { createReplicaPool, type Replica, type ReplicaPool, type ReplicaPoolOptions } from "./replica-pool.ts";
export { createAffinityMemory, type AffinityMemory, type AffinityMemoryOptions } from "./affinity-memory.ts";
export { worstCaseTokens } from "./meter-tokens.ts";
