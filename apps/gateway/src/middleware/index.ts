/**
 * The gateway's middleware, one module per concern, each an options type and a factory (Hono's shape). In the order
 * app.ts mounts them: response headers, request id, access log, CORS, health; then on /v1: the request's scope (the
 * owner of what it holds), key authentication, and per API route the request's shaping; last, the error handlers.
 */

export { accessLog, type AccessLogOptions } from "./access-log.ts";
export { apiKeyAuth, type ApiKeyAuthOptions } from "./auth.ts";
export { bodyTooLarge, declaredTooLarge, decodeUtf8, readBodyWeb } from "./body.ts";
export { clientIpResolver, type ClientIpOptions } from "./client-ip.ts";
export { corsAllowlist, type CorsOptions } from "./cors.ts";
export { notFound, onError, type ErrorHandlerOptions } from "./errors.ts";
export { health, readiness, type Probe, type ReadinessOptions } from "./health.ts";
export { requestId, type RequestIdOptions } from "./request-id.ts";
export {
  clientClosed,
  onRequestAbort,
  requestScope,
  type ClientCloseHook,
  type RequestScope,
  type RequestScopeOptions,
} from "./request-scope.ts";
export { responseHeaders, withResponseHeaders } from "./response-headers.ts";
export { parseJsonObject, shapeRequest, type ShapeOptions } from "./shape.ts";
