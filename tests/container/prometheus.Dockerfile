# Prometheus for the container test, from Debian's own package on the Debian base (no
# registry to pull prom/prometheus from); run as the official image runs it.
ARG BASE=local/debian-python:bookworm
FROM ${BASE}
RUN apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir -p /prometheus && chown prometheus /prometheus
USER prometheus
ENTRYPOINT ["/usr/bin/prometheus"]
