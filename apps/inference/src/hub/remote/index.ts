/** The remote Hub client: one connection per artifact, the Hub API calls, and the fetch with typed errors and retries. */
export { connectHub, type HubConnection } from "./connect-hub.ts";
export { hostOf } from "./hosts.ts";
export { networkReason } from "./hub-fetch.ts";
export { lookupFile, lookupFiles, type FileLookup, type RemoteFile } from "./lookup-file.ts";
export { asHubError } from "./map-hub-response.ts";
export { BLOB_NAME, COMMIT_HASH, GIT_OID_HEX, SHA256_HEX } from "./oids.ts";
export { resolveRevision, type RemoteRevision, type RevisionKind } from "./resolve-revision.ts";
export { backoffDelay, DEFAULT_RETRY, DEFAULT_TIMEOUT_MS, sleep, type RetrySettings } from "./retry-policy.ts";
export { USER_AGENT } from "./user-agent.ts";
