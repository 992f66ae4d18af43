import type { ServerResponse } from "node:http";
import { sendInvalidCredentials } from "../errors.ts";
import { sendJson } from "../http-utils.ts";
import { whoamiBody, type Credentials } from "../tokens.ts";

/** `GET /api/whoami-v2`: 401 without a valid token. */
export function handleWhoami(res: ServerResponse, credentials: Credentials): void {
  if (credentials.kind !== "token") {
    sendInvalidCredentials(res);
    return;
  }
  sendJson(res, 200, whoamiBody(credentials.token));
}
