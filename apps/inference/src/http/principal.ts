import { SHARED_PRINCIPAL } from "../engine/index.ts";

/**
 * Who a request is for, as the gateway names it (a hash of the key, or of the key and user): the slot pool's line is
 * fair between principals (see engine/slot-pool.ts). Requests without it (internal callers) share one principal; so
 * do those whose value is not of the one safe shape, which is never logged or echoed.
 */
export const PRINCIPAL_HEADER = "x-slm-principal";

const SAFE_PRINCIPAL = /^[A-Za-z0-9_-]{1,64}$/;

export function requestPrincipal(value: string | undefined): string {
  return value !== undefined && SAFE_PRINCIPAL.test(value) ? value : SHARED_PRINCIPAL;
}
