// The layers of docs/architecture.md ("Layers"), checked in .ci/run (`npm run check`). Each rule
// names the direction it keeps; a change that needs to break one changes the architecture, so it
// changes this file and that document together.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'Import cycles make initialisation order matter and layers meaningless.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'capabilities-is-pure',
      severity: 'error',
      comment: 'capabilities/ is the capability model: it imports nothing of the project outside itself.',
      from: { path: '^capabilities/' },
      to: { path: '^(kernel|sandbox|store|cli|mcp|bench|tests)/' },
    },
    {
      name: 'store-only-capabilities',
      severity: 'error',
      comment: 'store/ imports only capabilities/.',
      from: { path: '^store/' },
      to: { path: '^(kernel|sandbox|cli|mcp|bench|tests)/' },
    },
    {
      name: 'sandbox-store-only-in-entry',
      severity: 'error',
      comment: 'A sandbox worker opens the store read-only in its process entry point and nowhere else.',
      from: { path: '^sandbox/', pathNot: '^sandbox/worker\\.ts$' },
      to: { path: '^store/' },
    },
    {
      name: 'sandbox-not-kernel',
      severity: 'error',
      comment: 'Workers never reach into the kernel process code.',
      from: { path: '^sandbox/' },
      to: { path: '^(kernel|cli|mcp)/' },
    },
    {
      name: 'kernel-only-from-entry-points',
      severity: 'error',
      comment: 'Nothing imports kernel/ but cli/, bench/, tests and kernel/ itself.',
      from: { pathNot: '^(kernel|cli|bench|tests)/' },
      to: { path: '^kernel/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)(node_modules|dist)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js', '.json'] },
  },
};
