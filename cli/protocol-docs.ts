// `npm run docs:protocol` (a maintainer's tool kept beside the CLI, not a subcommand): writes docs/protocol.md's generated section (the method tables) from the
// protocol's zod source (capabilities/protocol/docs.ts). `--check` writes nothing and exits 1 when
// the file is out of date (tests/protocol.drift.test.ts checks the same).

import { readFileSync, writeFileSync } from 'node:fs';
import { withProtocolDocs } from '../capabilities/protocol/docs.ts';

const file = new URL('../docs/protocol.md', import.meta.url);
const before = readFileSync(file, 'utf8');
const after = withProtocolDocs(before);
if (process.argv.includes('--check')) {
  if (after !== before) {
    process.stderr.write('docs/protocol.md is out of date: run `npm run docs:protocol`\n');
    process.exit(1);
  }
} else if (after !== before) {
  writeFileSync(file, after);
  process.stdout.write('docs/protocol.md: generated section rewritten\n');
} else {
  process.stdout.write('docs/protocol.md: up to date\n');
}
