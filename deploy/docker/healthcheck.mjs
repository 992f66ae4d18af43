// The images' HEALTHCHECK: exit 0 when the service's /ready answers 200 on loopback, 1 otherwise (no curl in a slim
// image). Usage: node healthcheck.mjs PORT_VARIABLE DEFAULT_PORT
const [variable, fallback] = process.argv.slice(2);
const port = process.env[variable] || fallback;
try {
  const response = await fetch(`http://127.0.0.1:${port}/ready`, { signal: AbortSignal.timeout(4000) });
  process.exit(response.ok ? 0 : 1);
} catch {
  process.exit(1);
}
