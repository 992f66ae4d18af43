# Test-only stand-in for the official Redis image (no registry is reachable here): Debian's redis-server on the
# test's base image. compose.yaml's redis command works with either.
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server \
    && rm -rf /var/lib/apt/lists/*
USER redis
