// Sums the Jest JSON reports of every workspace and tier, and fails when any step failed.
const fs = require('node:fs');
const path = require('node:path');

const failedSteps = process.argv.slice(2);
const root = path.resolve(__dirname, '..');
let passed = 0;
let failed = 0;
let skipped = 0;
const perFile = [];
const reports = [];
const workspaces = ['packages', 'apps'].flatMap((g) => fs.readdirSync(path.join(root, g)).map((ws) => path.join(g, ws)));
workspaces.push('bench');
{
  for (const ws of workspaces) {
    const dir = path.join(root, ws, '.jest');
    if (!fs.existsSync(dir)) continue;
    for (const f of fs.readdirSync(dir)) if (f.endsWith('.json')) reports.push([f, path.join(dir, f)]);
  }
}
for (const [f, file] of reports.sort()) {
  const r = JSON.parse(fs.readFileSync(file, 'utf8'));
  passed += r.numPassedTests;
  failed += r.numFailedTests;
  skipped += r.numPendingTests + (r.numTodoTests ?? 0);
  perFile.push(`${f.replace(/\.json$/, '').padEnd(34)} ${String(r.numPassedTests).padStart(4)} passed ${String(r.numFailedTests).padStart(3)} failed`);
}
console.log('\n' + perFile.join('\n'));
if (failedSteps.length) console.log(`\nfailed steps: ${failedSteps.join(', ')}`);
const stepFailures = failedSteps.length && failed === 0 ? failedSteps.length : 0;
console.log(`tests: ${passed} passed, ${failed + stepFailures} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed + failedSteps.length > 0 ? 1 : 0);
