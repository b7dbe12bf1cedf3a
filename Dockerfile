# syntax=docker/dockerfile:1
# Miyabi API for Google Cloud Run: build on Debian 12, run on Debian 12 slim
# with only the runtime libraries, as a non-root user. The binary is PID 1
# (exec-form ENTRYPOINT) so it receives SIGTERM and drains within
# SHUTDOWN_GRACE_MS before Cloud Run's SIGKILL. No HEALTHCHECK: Cloud Run
# probes /api/v1/health/live itself (deploy/cloudrun/service.yaml).

FROM debian:bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      g++ cmake make pkg-config ca-certificates \
      libcaf-dev libpistache-dev libpqxx-dev rapidjson-dev \
      prometheus-cpp-dev libcurl4-openssl-dev libssl-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY CMakeLists.txt main.cpp ./
COPY cmake cmake
COPY config config
COPY metrics metrics
COPY storage storage
COPY actors actors
COPY http http
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=Release \
      -DMIYABI_BUILD_TESTS=OFF -DMIYABI_BUILD_BENCH=OFF \
 && cmake --build /build -j"$(nproc)" \
 && strip /build/miyabi-api

FROM debian:bookworm-slim
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
ENTRYPOINT ["/usr/local/bin/miyabi-api"]
