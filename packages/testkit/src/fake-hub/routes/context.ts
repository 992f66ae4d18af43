import type { IncomingMessage, ServerResponse } from "node:http";
import type { HubState } from "../state.ts";
import type { Credentials } from "../tokens.ts";

/** What a Hub route handler receives. */
export interface RouteContext {
  state: HubState;
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  credentials: Credentials;
  /** `org/name` */
  repoId: string;
  /** Percent-decoded path segments after the route keyword (`revision`, `tree`, `resolve`, ...). */
  rest: string[];
}
