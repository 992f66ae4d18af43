#!/usr/bin/env bash
# Makes docker usable for `pnpm test:container` on a CI machine: installs Debian's docker.io, docker-compose and
# debootstrap when missing (as root), and starts dockerd without a bridge or iptables rules (the test uses host
# networking only) when no daemon answers. Exits non-zero, saying why, when docker cannot run here.
set -uo pipefail

if ! command -v dockerd >/dev/null 2>&1 || ! command -v docker-compose >/dev/null 2>&1 || ! command -v debootstrap >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q docker.io docker-compose debootstrap) >/tmp/docker-install.log 2>&1 \
      || { echo "start-docker: apt-get install docker.io docker-compose debootstrap failed (/tmp/docker-install.log)" >&2; exit 1; }
  else
    echo "start-docker: docker.io, docker-compose and debootstrap are needed (apt-get install docker.io docker-compose debootstrap)" >&2
    exit 1
  fi
fi

# Debian's CLI (20.10) reaches the daemon's built-in BuildKit; a newer CLI earlier on PATH may lack buildx.
docker=/usr/bin/docker
[ -x "$docker" ] || docker=docker
if ! "$docker" info >/dev/null 2>&1; then
  if [ "$(id -u)" != "0" ]; then
    echo "start-docker: no docker daemon answers, and only root can start one" >&2
    exit 1
  fi
  nohup dockerd --bridge=none --iptables=false >/tmp/dockerd.log 2>&1 &
  for _ in $(seq 1 60); do "$docker" info >/dev/null 2>&1 && break; sleep 0.5; done
  if ! "$docker" info >/dev/null 2>&1; then
    echo "start-docker: dockerd did not start:" >&2
    tail -n 5 /tmp/dockerd.log >&2
    exit 1
  fi
fi
echo "start-docker: docker $("$docker" version --format '{{.Server.Version}}') is running"
