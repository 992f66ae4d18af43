/**
 * Request ids, as the gateway and inference accept them from a caller (`X-Request-Id`) and write them into every log
 * line: 1 to 128 of letters, digits and `. _ : -` - room for UUIDs, ULIDs, trace ids and `name:123` forms, and none
 * for spaces, quotes, `=`, control characters or anything that could forge or break a log line. Any other value is
 * replaced by a fresh UUID, never trimmed or echoed.
 */
export const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

/** The caller's id when it has the safe shape, else a fresh UUID. */
export function acceptRequestId(incoming: string | null | undefined): string {
  return incoming !== undefined && incoming !== null && REQUEST_ID_PATTERN.test(incoming)
    ? incoming
    : crypto.randomUUID();
}
