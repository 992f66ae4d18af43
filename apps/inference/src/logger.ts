import { pino, type Logger } from "pino";

export type { Logger };

/**
 * JSON logs on stdout. Secrets are removed by configuration: any field that could carry a token or a key is
 * censored wherever it appears, so a careless `log.info({ hub })` cannot leak one.
 */
export function createLogger(level: string, service: string): Logger {
  return pino({
    level,
    base: { service },
    redact: {
      paths: [
        "token",
        "accessToken",
        "apiKey",
        "authorization",
        "*.token",
        "*.accessToken",
        "*.apiKey",
        "*.authorization",
        "*.headers.authorization",
        "*.*.authorization",
      ],
      censor: "[redacted]",
    },
    timestamp: pino.stdTimeFunctions.isoTime,
    // Errors are logged by name, message and code: a stack trace never goes into a log line.
    serializers: { err: (error: unknown) => serializeError(error) },
  });
}

function serializeError(error: unknown): Record<string, unknown> {
  if (!(error instanceof Error)) return { message: String(error) };
  const code = (error as { code?: unknown }).code;
  return { type: error.name, message: error.message, ...(code === undefined ? {} : { code }) };
}
