// Shared Jest settings: @swc/jest for speed (with decorator metadata for Nest), and
// workspace packages mapped to their sources so tests never need a prior build.
const fs = require('node:fs');
const path = require('node:path');

const workspaceMap = {};
for (const group of ['packages', 'apps']) {
  for (const name of fs.readdirSync(path.join(__dirname, group))) {
    const src = path.join(__dirname, group, name, 'src');
    if (!fs.existsSync(src)) continue;
    workspaceMap[`^@regstream/${name}/testing$`] = path.join(src, 'testing', 'index.ts');
    workspaceMap[`^@regstream/${name}$`] = path.join(src, 'index.ts');
  }
}

module.exports = (dir) => ({
  rootDir: dir,
  testEnvironment: 'node',
  roots: ['<rootDir>/src'],
  transform: {
    '^.+\\.ts$': [
      '@swc/jest',
      {
        jsc: {
          parser: { syntax: 'typescript', decorators: true },
          transform: { legacyDecorator: true, decoratorMetadata: true },
          target: 'es2022',
        },
        module: { type: 'commonjs' },
      },
    ],
  },
  moduleFileExtensions: ['ts', 'js', 'json'],
  moduleNameMapper: workspaceMap,
  testTimeout: 30000,
});
