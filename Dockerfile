# Weft in a container: `docker build -t weft .`, then `docker run weft train mnist` or, one
# container per machine, `docker run -e WEFT_JOB_SECRET weft launch --nnodes 2 --node-rank 0 ...`
# (docs/containers.md). The first stage builds the native kernels and compiles the TypeScript with
# the tools node:20-bookworm already has (g++, make, python3); the second holds only what runs.
#
# test/cluster/container.test.ts reads the runtime stage's COPY, WORKDIR, USER, ENV and ENTRYPOINT
# lines and builds an image of the same layout from local files (no registry is needed there), so
# keep each of those on one line, and every COPY source under /weft in the build stage.

FROM node:20-bookworm AS build
WORKDIR /weft
# node-gyp would download Node's headers from nodejs.org; the image has them beside its node.
ENV npm_config_nodedir=/usr/local
# The lock file alone first, so a change to the sources does not re-download the dependencies.
# Their install scripts are skipped: ours needs the sources (it runs below), esbuild's only checks
# the platform binary that its optional dependency already brings, and protobufjs's only warns.
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY . .
# The build script never fails an install (Weft would fall back to the slow reference backend);
# an image must not ship without its kernels, so a missing addon fails the build with the reason.
RUN node scripts/build-native.mjs --force && test -f build/Release/weft.node || { cat build/native-build-error.txt; exit 1; }
RUN npx tsc -p tsconfig.json
RUN npm prune --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim
ENV NODE_ENV=production
# The node user's home, which it owns: `weft launch` writes runs/<job-id>/ in the working directory.
WORKDIR /home/node
COPY --from=build /weft/package.json ./package.json
COPY --from=build /weft/node_modules ./node_modules
COPY --from=build /weft/dist/src ./dist/src
COPY --from=build /weft/build/Release/weft.node ./build/Release/weft.node
COPY --from=build /weft/data ./data
USER node
ENTRYPOINT ["node", "dist/src/cli/main.js"]
