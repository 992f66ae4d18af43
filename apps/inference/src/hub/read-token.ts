import { readFile } from "node:fs/promises";
import { HF_TOKEN_PATTERN, type HubSettings } from "@slm/config";

export class TokenFileError extends Error {
  override readonly name = "TokenFileError";
  readonly code = "invalid_token_file";
}

/**
 * The Hub token, in the Python client's order: HF_TOKEN, HUGGING_FACE_HUB_TOKEN (both read by the env schema),
 * then the token file (`HF_TOKEN_PATH` or `$HF_HOME/token`). A missing file means no token.
 */
export async function readToken(hub: HubSettings): Promise<string | undefined> {
  if (hub.token) return hub.token;
  let text: string;
  try {
    text = (await readFile(hub.tokenPath, "utf8")).trim();
  } catch {
    return undefined;
  }
  if (text === "") return undefined;
  if (!HF_TOKEN_PATTERN.test(text)) {
    throw new TokenFileError(`the token file ${hub.tokenPath} does not hold a Hub token (expected one starting with hf_)`);
  }
  return text;
}
