# Image for docker-compose.yml (not used on the project's own machines, which have no Docker engine).
FROM node:20-bookworm-slim
WORKDIR /app
COPY . .
RUN npm ci --no-audit --no-fund && npx turbo run build && npm prune --omit=dev
USER node
CMD ["node", "apps/server/dist/main.js"]
