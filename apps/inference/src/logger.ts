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
        "authorization",
        "*.token",
        "*.accessToken",
        "*.authorization",
        "*.headers.authorization",
        "*.*.authorization",
      ],
      censor: "[redacted]",
    },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}
