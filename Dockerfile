# Multi-stage image: build the release binary, run it as an unprivileged user on a slim base.
#   docker build -t veza .
#   docker run -p 8080:8080 -p 8000:8000 -v veza-data:/var/lib/veza/data veza
FROM rust:1-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends pkg-config libpq-dev libsqlite3-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin veza \
 && strip target/release/veza

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpq5 libsqlite3-0 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --home-dir /var/lib/veza --create-home veza \
 && mkdir -p /var/lib/veza/data \
 && chown veza:veza /var/lib/veza/data
COPY --from=build /src/target/release/veza /usr/local/bin/veza
USER veza:veza
WORKDIR /var/lib/veza
ENV VEZA_BIND=0.0.0.0:8080 \
    VEZA_INGEST_BIND=0.0.0.0:8000 \
    VEZA_DATA_DIR=/var/lib/veza/data \
    VEZA_DATABASE_URL=sqlite:///var/lib/veza/data/veza.db \
    VEZA_LOG_FORMAT=json
VOLUME ["/var/lib/veza/data"]
EXPOSE 8080 8000
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/veza"]
CMD ["serve"]
