// Validate MapLibre styles with the style spec's own validator (what its gl-style-validate CLI
// runs: parse, then validateStyleMin): `node validate-style.mjs a.json b.json` prints
// {file: [errors...]} as JSON and exits 1 when any style has an error (tests/test_styles.py).
import { readFileSync } from 'node:fs';
import { validateStyleMin } from '@maplibre/maplibre-gl-style-spec';

const report = {};
let failed = false;
for (const file of process.argv.slice(2)) {
  let style;
  try {
    style = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    report[file] = [{ message: `not JSON: ${error.message}`, line: null }];
    failed = true;
    continue;
  }
  const errors = validateStyleMin(style).map((e) => ({ message: e.message, line: e.line ?? null }));
  report[file] = errors;
  if (errors.length) failed = true;
}
process.stdout.write(JSON.stringify(report));
process.exitCode = failed ? 1 : 0;
