# zipcoord: multi-stage build, small runtime image, non-root user.
#
# The build step is the command scripts/test.sh runs (`cargo build --release --locked`), and
# scripts/container_smoke.py starts the binary it produces with this file's ENV, CMD and HEALTHCHECK, so the test
# suite exercises what this image runs even on machines without a Docker engine.

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin zipcoord \
    && mkdir -p /data && chown zipcoord:zipcoord /data
COPY --from=build /src/target/release/zipcoord /usr/local/bin/zipcoord
USER zipcoord
WORKDIR /data
# The SQLite file lives here; with PostgreSQL (ZIPCOORD_DATABASE_URL=postgres://...) the volume stays empty.
VOLUME /data
ENV ZIPCOORD_LISTEN=0.0.0.0:8080
ENV ZIPCOORD_DATABASE_URL=sqlite:///data/zipcoord.db
ENV ZIPCOORD_LOG_FORMAT=json
EXPOSE 8080
# `probe` asks /livez where ZIPCOORD_LISTEN says `serve` listens (loopback for 0.0.0.0), so a changed port is followed.
HEALTHCHECK --interval=30s --timeout=6s --start-period=10s CMD ["zipcoord", "probe"]
ENTRYPOINT ["zipcoord"]
CMD ["serve"]
