// The example graph `npm start` registers into an empty store: four capabilities in
// docs/examples/ that call each other and share state (see docs/cli.md for a walkthrough).

import { readFileSync } from 'node:fs';
import { inferLanguage } from '../capabilities/compile.ts';
import { LOCAL_OPERATOR } from '../capabilities/types.ts';
import type { Kernel } from './kernel.ts';

export const EXAMPLE_FILES = ['tokenize.js', 'frequency.ts', 'wordcount.js', 'report.js'];

export async function registerExamples(kernel: Kernel): Promise<void> {
  await kernel.apply(LOCAL_OPERATOR, {
    changes: EXAMPLE_FILES.map((f) => ({
      op: 'register' as const,
      source: readFileSync(new URL(`../docs/examples/${f}`, import.meta.url), 'utf8'),
      language: inferLanguage(f),
    })),
  });
}
