# Multi-stage build: the Swift toolchain builds, a slim Debian runs. Keep the build step identical
# to `make build` (CI runs that; no Docker engine is available there).
FROM swift:6.1-bookworm AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libssl-dev libhiredis-dev libyaml-dev zlib1g-dev liburing-dev libcurl4-openssl-dev pkg-config make \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN make build \
 && install -D "$(swift build -c release --show-bin-path)/wavelog-worker" /out/wavelog-worker

FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libssl3 libhiredis0.14 libyaml-0-2 zlib1g liburing2 libcurl4 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin worker \
 && mkdir -p /etc/wavelog_worker
# The Swift runtime libraries the binary links dynamically.
COPY --from=build /usr/lib/swift/linux/*.so /usr/lib/swift/linux/
COPY --from=build /out/wavelog-worker /usr/local/bin/wavelog-worker
COPY config.sample.yaml /etc/wavelog_worker/config.sample.yaml
ENV LD_LIBRARY_PATH=/usr/lib/swift/linux
USER worker
EXPOSE 9000 9001
# The binary probes itself: /readyz on the public port answers 200 while the node should get traffic.
HEALTHCHECK --interval=10s --timeout=3s --retries=3 CMD ["/usr/local/bin/wavelog-worker", "probe", "-url", "http://127.0.0.1:9000/readyz"]
# Mount the real config at /etc/wavelog_worker/config.yaml, or set WAVELOG_* variables.
# Inside a container the internal API must listen beyond loopback: set internal_bind (and keep
# port 9001 on a private network only).
ENTRYPOINT ["/usr/local/bin/wavelog-worker"]
CMD ["-config", "/etc/wavelog_worker/config.yaml"]
