// `fs` as the conformance bundle expects it. Node 20 has no fs.globSync; the bundle uses it only in
// its `tier-check` command (to find checks.json files), never in `server`, so a call says so.

import fs from 'node:fs';

export * from 'node:fs';
export default fs;
export const globSync =
  fs.globSync ??
  (() => {
    throw new Error('fs.globSync needs Node 22: only the conformance tier-check command uses it');
  });
