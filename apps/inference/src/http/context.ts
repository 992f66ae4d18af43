import type { Context } from "hono";

/** Per-request values the middleware sets for the routes. */
export interface InferenceEnv {
  Variables: {
    /** From X-Request-Id when well-formed, else generated; echoed in the response and in every log line. */
    requestId: string;
    /** performance.now() when the request arrived: the start of time to first token. */
    arrivedAt: number;
  };
}

export type InferenceContext = Context<InferenceEnv>;
