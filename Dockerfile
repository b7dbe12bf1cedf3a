# syntax=docker/dockerfile:1
# Miyabi API for Google Cloud Run: build on Debian 12, run on Debian 12 slim
# with only the runtime libraries, as a non-root user. The binary is PID 1
# (exec-form ENTRYPOINT) so it receives SIGTERM and drains within
# SHUTDOWN_GRACE_MS before Cloud Run's SIGKILL. No HEALTHCHECK: Cloud Run
# probes /api/v1/health/live itself (deploy/cloudrun/service.yaml).
# Built and checked (health, uid, SIGTERM) by deploy/container-check.
#
# Base images, pinned by digest. They come from no registry: deploy/base-images
# makes them with debootstrap from the Debian mirror apt uses and imports
# them into podman's local storage as debian:bookworm and debian:bookworm-slim,
# so the digests below are those of the local images of the machine that
# last pinned them (a debootstrap run is not reproducible: every machine and
# every --rebuild gets new digests). deploy/container-check always builds
# with --build-arg BASE_IMAGE=... RUNTIME_IMAGE=... set to the digests of the
# images it just made or found, so a fresh machine builds too, still pinned
# to exact images. To update the pins here: `deploy/base-images --rebuild
# --pin` (it prints the new references and writes them below), run
# deploy/container-check, and commit the two lines with the reason.
ARG BASE_IMAGE=debian:bookworm@sha256:aa80519e04ab578b78515693379380cca6ee0f9ca50c0f2b62dcb1e35f360a2d
ARG RUNTIME_IMAGE=debian:bookworm-slim@sha256:c9a8650a630b9d4d3fe964bc9f5858215468e8298d07192a261d1e2b0e2ed7b6

FROM ${BASE_IMAGE} AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      g++ cmake make pkg-config ca-certificates \
      libcaf-dev libpistache-dev libpqxx-dev rapidjson-dev \
      prometheus-cpp-dev libcurl4-openssl-dev libssl-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Every folder CMakeLists.txt adds without an option (tests, bench and fuzz
# are switched off below); .dockerignore lets in only these.
COPY CMakeLists.txt main.cpp ./
COPY cmake cmake
COPY base base
COPY config config
COPY metrics metrics
COPY storage storage
COPY domain domain
COPY actors actors
COPY http http
# The version health, --version and the User-Agent report. The context has
# no .git, so CMake's `git describe` cannot run here: the caller passes it
# (deploy/container-check: the `git describe` version of the checkout).
ARG MIYABI_VERSION=dev
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=Release \
      -DMIYABI_BUILD_TESTS=OFF -DMIYABI_BUILD_BENCH=OFF \
      -DMIYABI_VERSION="${MIYABI_VERSION}" \
 && cmake --build /build -j"$(nproc)" \
 && strip /build/miyabi-api \
 && /build/miyabi-api --version

FROM ${RUNTIME_IMAGE}
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libcaf-core0.17 libpistache0 libpqxx-6.4 libpq5 \
      libprometheus-cpp-core1.0 libcurl4 libssl3 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin miyabi
COPY --from=build /build/miyabi-api /usr/local/bin/miyabi-api
USER 10001:10001
ENV PORT=8080 \
    ENVIRONMENT=production
EXPOSE 8080
STOPSIGNAL SIGTERM
# OCI labels, last so that new values rebuild no layer above them.
# org.opencontainers.image.created, different on every build, is given with
# --label (deploy/container-check does).
ARG RUNTIME_IMAGE
ARG MIYABI_VERSION=dev
ARG MIYABI_REVISION=unknown
ARG MIYABI_SOURCE=https://github.com/OWNER/miyabi-api
LABEL org.opencontainers.image.title="miyabi-api" \
      org.opencontainers.image.description="Miyabi API: HTTP API, agents and the Telegram bot" \
      org.opencontainers.image.version="${MIYABI_VERSION}" \
      org.opencontainers.image.revision="${MIYABI_REVISION}" \
      org.opencontainers.image.source="${MIYABI_SOURCE}" \
      org.opencontainers.image.base.name="${RUNTIME_IMAGE}"
ENTRYPOINT ["/usr/local/bin/miyabi-api"]
