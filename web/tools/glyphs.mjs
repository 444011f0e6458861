// Glyph ranges for MapLibre's labels: `node glyphs.mjs FONT.ttf OUT_DIR START [START ...]`
// writes OUT_DIR/START-END.pbf (256 code points each, signed distance fields in MapLibre's glyph
// protobuf) with fontnik, Mapbox's converter (its native module ships inside the npm package).
// Called by the twin (twin/glyphs.py) the first time a range is asked for; the files are cached.
import { createRequire } from 'node:module';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const require = createRequire(import.meta.url);
const fontnik = require('fontnik');

const [fontPath, outDir, ...starts] = process.argv.slice(2);
if (!fontPath || !outDir || !starts.length) {
  console.error('usage: node glyphs.mjs FONT.ttf OUT_DIR START [START ...]');
  process.exit(2);
}
const font = readFileSync(fontPath);

function range(start) {
  const end = Math.min(start + 255, 65535);
  return new Promise((resolve, reject) => {
    fontnik.range({ font, start, end }, (error, data) => {
      if (error) { reject(error); return; }
      // written under a temporary name, then renamed: a reader never sees half a file
      const target = join(outDir, `${start}-${end}.pbf`);
      const partial = `${target}.${process.pid}.part`;
      writeFileSync(partial, data);
      renameSync(partial, target);
      resolve(target);
    });
  });
}

try {
  for (const start of starts.map(Number)) {
    if (!Number.isInteger(start) || start < 0 || start > 65535 || start % 256) {
      throw new Error(`not the start of a glyph range: ${start}`);
    }
    await range(start);
  }
} catch (error) {
  console.error(String(error?.message ?? error));
  process.exit(1);
}
