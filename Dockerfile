# Lineup: personal, signed M3U playlists served from SQLite.
#   docker build -t lineup .        (or: docker compose up -d, see docker-compose.yml)

# --- build: compile TypeScript and the better-sqlite3 native addon ---------------------------
FROM node:20-slim AS build
WORKDIR /app
# better-sqlite3 compiles from source when no prebuilt binary matches the platform.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
# --ignore-scripts: the `prepare` script would build before the sources are here; the native
# addon is then built on its own.
RUN npm ci --ignore-scripts && npm rebuild better-sqlite3
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# The runtime runs none of npm's scripts (they build, and need the compilers): without them,
# `npx lineup` in the container runs bin/lineup.js as it is.
RUN npm run build && npm prune --omit=dev && npm pkg delete scripts

# --- runtime: compiled code, production dependencies, no compilers --------------------------
FROM node:20-slim
ENV NODE_ENV=production \
    LINEUP_DB=/app/data/lineup.db \
    PORT=8080
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY bin ./bin
COPY playlists ./playlists
# `lineup` on PATH: `docker compose exec lineup lineup subscriber add alice`.
RUN ln -s /app/bin/lineup.js /usr/local/bin/lineup
# The image's `node` user (uid 1000) owns the database directory; nothing runs as root.
RUN mkdir -p /app/data && chown node:node /app/data
USER node
VOLUME ["/app/data"]
EXPOSE 8080
# node:20-slim has no curl; Node 20's fetch does the check.
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "bin/lineup.js", "serve"]
