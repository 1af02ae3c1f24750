// Which dependencies a version enqueues (ctx.enqueue) rather than, or as well as, calls: read from
// its compiled source, so that graph/get and graph/impact can draw enqueue edges apart from call
// edges without a manifest field the contract does not have. Only literal call sites count —
// `.enqueue("name", …)` with a string literal — since a computed name cannot be known before it
// runs; such an edge still shows as a dependency (enqueue targets are declared dependencies), only
// unmarked. Comments are removed first (esbuild, whitespace-only minification keeps string
// contents) so a commented-out call is not an edge. Pure: same source, same answer.

import { transformSync } from 'esbuild';

const SITE = /\.enqueue\(\s*(["'`])([a-z][a-z0-9-]*(?:\.[a-z][a-z0-9-]*)*)\1/g;

/** The capability names that `compiled` passes literally to `.enqueue(`, sorted, without repeats. */
export function enqueueTargets(compiled: string): string[] {
  if (!compiled.includes('enqueue')) return [];
  let code = compiled;
  try {
    code = transformSync(compiled, { minifyWhitespace: true, format: 'esm', loader: 'js', legalComments: 'none' }).code;
  } catch {
    // Stored code always compiled once; if esbuild refuses it now, scan it as it is.
  }
  const out = new Set<string>();
  for (const m of code.matchAll(SITE)) out.add(m[2]);
  return [...out].sort();
}
