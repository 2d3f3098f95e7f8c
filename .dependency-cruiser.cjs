/** Dependency direction, checked in CI (npm run lint:deps). */
module.exports = {
  forbidden: [
    {
      name: 'domain-is-pure',
      comment: 'packages/domain imports no framework, database, broker or node I/O module',
      severity: 'error',
      from: { path: '^packages/domain/src', pathNot: '\\.spec\\.ts$' },
      to: {
        path: '(^node_modules/(@nestjs|typeorm|pg|better-sqlite3|kafkajs|bullmq|ioredis|express|yaml)/)|(^packages/(?!domain/))|(^apps/)',
      },
    },
    {
      name: 'domain-no-node-io',
      severity: 'error',
      from: { path: '^packages/domain/src', pathNot: '\\.spec\\.ts$' },
      to: { dependencyTypes: ['core'] },
    },
    {
      name: 'packages-do-not-import-apps',
      severity: 'error',
      from: { path: '^packages/' },
      to: { path: '^apps/' },
    },
    {
      name: 'no-relative-cross-workspace',
      comment: 'workspaces talk through their package names, never ../ into another workspace',
      severity: 'error',
      from: { path: '^(packages|apps)/([^/]+)/' },
      to: { path: '^(packages|apps)/([^/]+)/', pathNot: '^$1/$2/|node_modules' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)(dist|\\.turbo|\\.jest)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.base.json' },
    combinedDependencies: true,
  },
};
