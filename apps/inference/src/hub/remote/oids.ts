/**
 * The names the Hub (git) gives things, checked wherever one becomes a cache path or a pin: a hostile or intercepted
 * endpoint must not name a path of its choosing.
 */
/** A commit: 40 hex characters. */
export const COMMIT_HASH = /^[0-9a-f]{40}$/;
/** An LFS file's oid: the sha256 of its content. */
export const SHA256_HEX = /^[0-9a-f]{64}$/;
/** A small (non-LFS) file's oid: git's blob sha1. */
export const GIT_OID_HEX = /^[0-9a-f]{40}$/;
/** What a blob may be called in the cache: the LFS sha256 of a large file, or the git blob oid of a small one. */
export const BLOB_NAME = /^(?:[0-9a-f]{64}|[0-9a-f]{40})$/;
