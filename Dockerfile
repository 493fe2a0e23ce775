# The gateway as a container image (used by integration/compose.yaml). Not built on the
# development machines (no container engine there): CI runs the same build natively, and
# scripts/check-pins.py keeps scripts/pinned-versions.txt equal to the versions the tests ran with.
# Swift 6.3.1: what CI builds with (swift-prometheus needs tools 6.2 or later).
FROM swift:6.3.1-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends libsqlite3-dev && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Package.swift ./
COPY scripts/pinned-versions.txt ./scripts/
# Every package, direct and transitive, at exactly the version CI tested.
RUN swift package resolve \
    && grep -v '^#' scripts/pinned-versions.txt | while read -r name version _; do \
         swift package resolve "$name" --version "$version" || exit 1; \
       done
COPY Sources ./Sources
COPY Tests ./Tests
RUN swift build -c release --product mailbox-gateway \
    && mkdir -p /out \
    && cp .build/release/mailbox-gateway /out/ \
    && cp -R .build/release/*.resources /out/

FROM swift:6.3.1-bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends libsqlite3-0 ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir -p /app/data
WORKDIR /app
# The executable and its resource bundles (the OpenAPI document, the /docs files) side by side.
COPY --from=build /out/ /usr/local/bin/
COPY config ./config
ENV GATEWAY_HTTP_HOST=0.0.0.0 GATEWAY_DATABASE_PATH=/app/data/gateway.sqlite
VOLUME /app/data
EXPOSE 8080
# SIGTERM: stop accepting, finish requests, stop jobs at a chunk boundary (shutdown.graceSeconds,
# default 25 s), log out upstream, exit 0. Give the container more than that to stop.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s \
    CMD bash -c 'exec 3<>/dev/tcp/127.0.0.1/8080 && printf "GET /healthz HTTP/1.0\r\n\r\n" >&3 && grep -q "200 OK" <&3'
CMD ["mailbox-gateway", "serve", "--config", "/app/config/gateway.yaml"]
