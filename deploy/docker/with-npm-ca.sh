#!/bin/sh
# Build helper: runs a command with npm's and pnpm's trust extended to the CA bundle given as the build secret
# `npm_ca` (for a TLS-inspecting proxy between the build and the npm registry); without that secret, runs it as is.
if [ -f /run/secrets/npm_ca ]; then
  export NODE_EXTRA_CA_CERTS=/run/secrets/npm_ca npm_config_cafile=/run/secrets/npm_ca
fi
exec "$@"
