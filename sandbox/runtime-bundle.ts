// The in-isolate code (sandbox/runtime/, TypeScript modules checked by their own tsconfig) bundled
// into the scripts each capability context evaluates: esbuild, once per process, on first use,
// cached here. Every bundle is an IIFE, so nothing but what its code defines on purpose reaches the
// global object:
//  - boot, runtime, guards: the three pieces of the runtime's install script (sandbox/runtime.ts
//    concatenates them into one classic script, compiled once per isolate with a V8 code cache);
//  - bridge: the in-isolate half of the bridge, evaluated with `evalClosure` (sandbox/bridge.ts).
//    esbuild's `globalName` makes it `var __sb_bridge = (...)()`, local to that closure, so the
//    closure can `return __sb_bridge.startBridge($0)`.
// The bundles are built from files next to this one, so the runtime needs no build step; esbuild
// takes a few milliseconds for all of them (bench: tests/sandbox.runtime-modules.test.ts reports it).
import { buildSync, type BuildOptions } from 'esbuild';
import { fileURLToPath } from 'node:url';

export interface RuntimeBundles {
  boot: string;
  runtime: string;
  guards: string;
  bridge: string;
  /** How long esbuild took, in milliseconds (reported by the tests and the bench). */
  buildMs: number;
}

/** The variable the bridge bundle assigns inside its evalClosure. */
export const BRIDGE_GLOBAL_NAME = '__sb_bridge';

const entry = (name: string): string => fileURLToPath(new URL(`./runtime/${name}.ts`, import.meta.url));

const COMMON: BuildOptions = {
  bundle: true,
  format: 'iife',
  write: false,
  target: 'es2022',
  platform: 'neutral',
  // Readable stacks and Function.prototype.toString, the same as the template strings they replace.
  minify: false,
  legalComments: 'none',
  logLevel: 'silent',
};

let cached: RuntimeBundles | undefined;

function textOf(result: { outputFiles?: Array<{ path: string; text: string }> }, name: string): string {
  const file = result.outputFiles?.find((f) => f.path.endsWith(`${name}.js`));
  if (file === undefined) throw new Error(`sandbox runtime: esbuild produced no ${name}.js`);
  return file.text;
}

/** The bundles, built on the first call in this process. */
export function runtimeBundles(): RuntimeBundles {
  if (cached !== undefined) return cached;
  const t = process.hrtime.bigint();
  const install = buildSync({ ...COMMON, entryPoints: [entry('boot'), entry('index'), entry('memory-guards')], outdir: 'out' });
  const bridge = buildSync({ ...COMMON, entryPoints: [entry('bridge')], outdir: 'out', globalName: BRIDGE_GLOBAL_NAME });
  cached = {
    boot: textOf(install, 'boot'),
    runtime: textOf(install, 'index'),
    guards: textOf(install, 'memory-guards'),
    bridge: textOf(bridge, 'bridge'),
    buildMs: Number(process.hrtime.bigint() - t) / 1e6,
  };
  return cached;
}
