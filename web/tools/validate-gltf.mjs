// Validate glTF assets (GLB, or glTF JSON with embedded buffers) with the Khronos glTF
// validator: `node validate-gltf.mjs a.glb b.glb` prints {file: {errors, warnings, infos,
// messages}} as JSON (messages: errors, warnings and infos: severity 0-2, code, pointer) and exits 1
// when any asset has an error. Used by tests/test_gltf_valid.py.
import { readFileSync } from 'node:fs';
import { validateBytes, version } from 'gltf-validator';

const report = { validator: version() };
let failed = false;
for (const file of process.argv.slice(2)) {
  const result = await validateBytes(new Uint8Array(readFileSync(file)), { uri: file, maxIssues: 100 });
  const issues = result.issues;
  report[file] = {
    errors: issues.numErrors,
    warnings: issues.numWarnings,
    infos: issues.numInfos,
    extensions: result.info?.extensionsUsed ?? [],
    messages: issues.messages
      .filter((m) => m.severity <= 2)
      .map((m) => ({ severity: m.severity, code: m.code, pointer: m.pointer ?? null, message: m.message })),
  };
  if (issues.numErrors) failed = true;
}
process.stdout.write(JSON.stringify(report));
process.exitCode = failed ? 1 : 0;
