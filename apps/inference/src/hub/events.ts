/**
 * Something model resolution wants logged (a retry, a resume, a floating revision, the lockfile in force).
 * Fields never hold a URL or a token; main.ts passes them to the logger as they are.
 */
export interface SupplyChainEvent {
  level: "debug" | "info" | "warn";
  msg: string;
  fields: Record<string, unknown>;
}

export type EventSink = (event: SupplyChainEvent) => void;
