// From a capability's source to the ES module JavaScript the sandbox runs. TypeScript loses its
// types through esbuild's `transformSync` (one file, no type checking, no capability code run; about
// 5x faster than TypeScript's `transpileModule` here, see docs/performance.md) and gains an inline
// source map that positions are mapped back through (source-map.ts); JavaScript is returned as
// written but parsed the same way, so a syntax error in either language is refused at registration
// with its line and column instead of surfacing later inside a sandbox.
//
// Errors keep TypeScript's wording and positions: when esbuild refuses a source, the same source
// goes through `transpileModule`, whose first diagnostic is the COMPILE_ERROR (columns in UTF-16
// code units, as editors count; esbuild counts bytes). Where TypeScript accepts what esbuild
// refused (esbuild checks a little more, e.g. a redeclared `let`), TypeScript's output is used, so
// no source that registered before is refused now. That fallback is why `typescript` stays a
// runtime dependency; it is loaded only then.

import { createRequire } from 'node:module';
import { transformSync } from 'esbuild';
import type * as TS from 'typescript';
import { fail } from './errors.ts';
import { TS_SOURCE_FILE } from './source-map.ts';
import type { Language } from './types.ts';

// typescript is several megabytes of JavaScript (a few hundred ms to load): loaded on the first
// compile only, synchronously, since most kernels run for a long time without ever compiling.
let tsModule: typeof TS | undefined;

function typescript(): typeof TS {
  tsModule ??= createRequire(import.meta.url)('typescript') as typeof TS;
  return tsModule;
}

/** `.ts`, `.mts` and `.cts` files are TypeScript; everything else is JavaScript. */
export function inferLanguage(fileName: string): Language {
  return /\.(ts|mts|cts)$/i.test(fileName) ? 'ts' : 'js';
}

/** Compiles `source` to ES module JavaScript. Throws COMPILE_ERROR `{ line, column, message,
 *  language }` (1-based) on the first syntax error. */
export function compileSource(source: string, language: Language): string {
  try {
    const out = transformSync(source, {
      loader: language,
      // No `format`: esbuild keeps the module's own import/export statements as written instead of
      // rewriting them (a format conversion would rename `export default function`).
      // isolated-vm 5 embeds Node 20's V8, which runs ES2022 natively; newer syntax is lowered.
      target: 'es2022',
      // The map rides inside the compiled module (see source-map.ts). Without the source text: the
      // kernel has it.
      sourcemap: language === 'ts' ? 'inline' : false,
      sourcesContent: false,
      sourcefile: language === 'ts' ? TS_SOURCE_FILE : 'capability.js',
      logLevel: 'silent',
    });
    return language === 'ts' ? out.code : source;
  } catch {
    return transpile(source, language);
  }
}

/** TypeScript's `transpileModule`: the diagnostic of a source esbuild refused, or its output. */
function transpile(source: string, language: Language): string {
  const ts = typescript();
  const result = ts.transpileModule(source, {
    fileName: language === 'ts' ? TS_SOURCE_FILE : 'capability.js',
    reportDiagnostics: true,
    compilerOptions: {
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.ESNext,
      // Every source is an ES module, even one without import/export: no "use strict" prologue.
      moduleDetection: ts.ModuleDetectionKind.Force,
      isolatedModules: true,
      verbatimModuleSyntax: false,
      allowJs: true,
      removeComments: false,
      // The map rides inside the compiled module (see source-map.ts): stacks and V8's errors are
      // mapped back to the lines the agent wrote. Without the source text: the kernel has it.
      sourceMap: false,
      inlineSourceMap: true,
      inlineSources: false,
    },
  });
  const error = (result.diagnostics ?? []).find((d) => d.category === ts.DiagnosticCategory.Error);
  if (error) {
    const message = ts.flattenDiagnosticMessageText(error.messageText, '\n');
    if (error.file && error.start !== undefined) {
      const pos = error.file.getLineAndCharacterOfPosition(error.start);
      const line = pos.line + 1;
      const column = pos.character + 1;
      throw fail('COMPILE_ERROR', `line ${line}, column ${column}: ${message}`, { line, column, message, language });
    }
    throw fail('COMPILE_ERROR', message, { message, language });
  }
  return language === 'ts' ? result.outputText : source;
}
