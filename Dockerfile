# Multi-stage image: build the release binary, run it as an unprivileged user on a slim base.
#   docker build -t veza .
#   docker run -p 8080:8080 -p 8000:8000 -v veza-data:/var/lib/veza/data veza
# Both stages are Debian bookworm, so the libraries linked at build time are the ones found at run time.
# scripts/test-deploy.sh fails if the packages here drift from scripts/deps.sh.
FROM rust:1-bookworm AS build
# The build packages come from scripts/deps.sh itself, so the two lists cannot disagree.
COPY scripts/deps.sh /usr/local/bin/veza-deps.sh
RUN bash /usr/local/bin/veza-deps.sh build \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin veza \
 && strip target/release/veza

FROM debian:bookworm-slim
# The run-time halves of the -dev packages deps.sh builds with (libpq-dev -> libpq5,
# libsqlite3-dev -> libsqlite3-0, libopus-dev -> libopus0; libc6 is in the base image).
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpq5 libsqlite3-0 libopus0 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --home-dir /var/lib/veza --create-home veza \
 && mkdir -p /var/lib/veza/data \
 && chown veza:veza /var/lib/veza/data
COPY --from=build /src/target/release/veza /usr/local/bin/veza
USER 10001:10001
WORKDIR /var/lib/veza
ENV VEZA_BIND=0.0.0.0:8080 \
    VEZA_INGEST_BIND=0.0.0.0:8000 \
    VEZA_DATA_DIR=/var/lib/veza/data \
    VEZA_DATABASE_URL=sqlite:///var/lib/veza/data/veza.db \
    VEZA_LOG_FORMAT=json
VOLUME ["/var/lib/veza/data"]
EXPOSE 8080 8000
# No curl in the image: bash's /dev/tcp asks GET /health on the port VEZA_BIND names and wants a 200.
# (With VEZA_TLS_CERT set the port speaks only TLS: check from outside the container instead.)
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/${VEZA_BIND##*:} && printf 'GET /health HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n' >&3 && read -r status <&3 && [[ $status == *' 200 '* ]]"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/veza"]
CMD ["serve"]
