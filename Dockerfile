# syntax=docker/dockerfile:1
# The image of each service, from the repository root (the build context: every stage needs the
# workspaces' package.json files). The service is a build argument, with its port:
#   docker build --build-arg SERVICE=payment-service --build-arg PORT=3001 -t meetmatt/payment-service .
#   (user-service 3002, brain-service 3003; docker-compose.yml and CI pass the same)
# Without SERVICE or PORT the build fails before any step runs, naming the missing argument.
# Three stages: the build compiles TypeScript to JavaScript (scripts/build.js, esbuild), the deps
# stage installs this workspace's production dependencies only, and the runtime holds the two:
# no TypeScript compiler, no tsx, no sources, no tests.

# Stage 1: the bundles. <service>/dist/main.js (the service), migrate.js (the migrations, as the
# Kubernetes Job runs them), for payment and brain sandbox-main.js (the provider sandbox, for
# compose's sandbox profile), and scripts/dist/cli.js (the operator CLI).
FROM node:24-bookworm-slim AS build
ARG SERVICE
WORKDIR /app
COPY package.json package-lock.json ./
COPY contracts/package.json contracts/
COPY infra/package.json infra/
COPY payment-service/package.json payment-service/
COPY user-service/package.json user-service/
COPY brain-service/package.json brain-service/
COPY scripts/package.json scripts/
COPY client/package.json client/
RUN npm ci --no-audit --no-fund
COPY . .
RUN node scripts/build.js "${SERVICE:?build arg SERVICE is required}" cli

# Stage 2: production dependencies of this workspace (and of the workspaces it uses) only.
FROM node:24-bookworm-slim AS deps
ARG SERVICE
WORKDIR /app
COPY package.json package-lock.json ./
COPY contracts/package.json contracts/
COPY infra/package.json infra/
COPY payment-service/package.json payment-service/
COPY user-service/package.json user-service/
COPY brain-service/package.json brain-service/
COPY scripts/package.json scripts/
COPY client/package.json client/
RUN npm ci --omit=dev --workspace "${SERVICE:?build arg SERVICE is required}" --include-workspace-root=false --no-audit --no-fund

# Stage 3: the runtime, as the unprivileged node user; the root filesystem may be read-only.
FROM node:24-bookworm-slim
ARG SERVICE
ARG PORT
ARG BUILD_COMMIT=
# ${X:?message} is checked when the Dockerfile is read: a build without SERVICE or PORT stops there.
LABEL org.opencontainers.image.title="${SERVICE:?build arg SERVICE is required (payment-service, user-service or brain-service)}"
ENV BUILD_COMMIT=${BUILD_COMMIT}
ENV NODE_ENV=production HOST=0.0.0.0 PORT="${PORT:?build arg PORT is required (payment-service 3001, user-service 3002, brain-service 3003)}" LOG_FORMAT=json
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/package.json ./
COPY --from=build /app/${SERVICE}/package.json ./${SERVICE}/
COPY --from=build /app/${SERVICE}/dist ./${SERVICE}/dist
COPY --from=build /app/scripts/package.json ./scripts/
COPY --from=build /app/scripts/dist ./scripts/dist
# An exec-form CMD expands no variable: /app/main.js links to this service's bundle. node runs
# the link's target (its real path), so the source map and node_modules are found from there.
RUN ln -s "${SERVICE}/dist/main.js" main.js
USER node
EXPOSE ${PORT}
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+process.env.PORT+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# The operator CLI runs in the same image: docker run --rm -e ... <image> node scripts/dist/cli.js --help
# Exec form: node is PID 1 and receives SIGTERM itself (graceful shutdown).
CMD ["node", "--enable-source-maps", "main.js"]
