/**
 * Ids the gateway gives: `<prefix>_` + 32 hex digits of a random UUID (122 random bits), the form inference gives its
 * response and item ids (`resp_`, `msg_`, `fc_`, `rs_`, from node:crypto's randomUUID) - unique across gateways and
 * replicas without coordination, and not guessable (a stored response is found only by its owner, see owner.ts).
 */
export function newId(prefix: string): string {
  return `${prefix}_${crypto.randomUUID().replaceAll("-", "")}`;
}

/** The prefix of a new id for an input item of `type` that came without one (OpenAI's prefixes). */
export function itemIdPrefix(type: unknown): string {
  switch (type) {
    case "function_call":
      return "fc";
    case "function_call_output":
      return "fco";
    case "reasoning":
      return "rs";
    default:
      return "msg";
  }
}
