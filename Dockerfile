# The tier4 CLI image, for the ops CronJobs (backup, restore drill, doctor) and for operators' laptops.
# Node.js 22 on Debian bookworm, whose PostgreSQL client is version 15, the same major as Primero's server.
# zstd compresses the database dump as pg_dump writes it and decompresses it on restore (decision 0018).
# Not built in this repository's CI (no Docker engine there); see docs/kubernetes.md.
#
#   docker build -t ghcr.io/primero-tier4/tier4:0.1.0 .
#   docker run --rm ghcr.io/primero-tier4/tier4:0.1.0 --help

FROM node:22-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
COPY scripts/install-deps.sh scripts/
RUN bash scripts/install-deps.sh
COPY . .
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

FROM node:22-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends postgresql-client-15 zstd ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 10001 tier4 \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /tmp --shell /usr/sbin/nologin tier4
WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY --from=build /src/bin ./bin
COPY --from=build /src/examples ./examples
COPY --from=build /src/runbooks ./runbooks
RUN ln -s /app/bin/tier4.js /usr/local/bin/tier4
ENV NODE_ENV=production HOME=/tmp NO_COLOR=1
# A numeric user, so Kubernetes can verify runAsNonRoot.
USER 10001:10001
ENTRYPOINT ["tier4"]
CMD ["--help"]
