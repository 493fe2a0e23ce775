# The gateway as a container image (used by integration/compose.yaml). Not built on the
# development machines (no container engine there); the same steps run natively in .ci/run.
FROM swift:6.1-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends libsqlite3-dev && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Package.swift ./
COPY Sources ./Sources
COPY Tests ./Tests
RUN swift build -c release --product mailbox-gateway

FROM swift:6.1-bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends libsqlite3-0 ca-certificates \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /src/.build/release/mailbox-gateway /usr/local/bin/
COPY --from=build /src/.build/release/mailbox-gateway_GatewayHTTP.resources /usr/local/bin/mailbox-gateway_GatewayHTTP.resources
COPY config ./config
ENV GATEWAY_HTTP_HOST=0.0.0.0 GATEWAY_DATABASE_PATH=/app/data/gateway.sqlite
EXPOSE 8080
CMD ["mailbox-gateway", "serve", "--config", "/app/config/gateway.yaml"]
