import * as v from "valibot";
import { ApiError, expectationMessage, invalidRequest } from "@slm/config";
import type { InferenceContext } from "./context.ts";

/** Parses the JSON body and validates it with a shared schema: one 400 naming the fields, never echoing values. */
export async function readRequest<S extends v.GenericSchema>(
  c: InferenceContext,
  schema: S,
): Promise<v.InferOutput<S>> {
  let body: unknown;
  try {
    body = await c.req.json();
  } catch {
    throw new ApiError(400, "invalid_request_error", "invalid_json", "The request body is not valid JSON.");
  }
  const parsed = v.safeParse(schema, body, { abortEarly: false, message: expectationMessage });
  if (!parsed.success) throw invalidRequest(parsed.issues);
  return parsed.output;
}
