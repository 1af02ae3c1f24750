// What the stdio MCP server loads: the MCP logic (mcp/server.ts and what it imports), never the
// Streamable HTTP endpoint (mcp/http-sessions.ts, the SDK's HTTP transport, node:http). Read from
// the import statements, transitively over the repository's own files.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '..');

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  // Value imports only: `import type` is erased and loads nothing.
  return [...text.matchAll(/^(?:import|export)\s+(?!type\s)(?:[^'";]*?\sfrom\s+)?['"]([^'"]+)['"]/gm)].map((m) => m[1]);
}

function closure(entry: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const todo = [path.join(root, entry)];
  while (todo.length) {
    const f = todo.pop()!;
    if (files.has(f)) continue;
    files.add(f);
    for (const spec of importsOf(f)) {
      if (spec.startsWith('.')) todo.push(path.resolve(path.dirname(f), spec));
      else packages.add(spec);
    }
  }
  return { files, packages };
}

describe('the stdio MCP server', () => {
  it('does not load the HTTP endpoint', () => {
    const { files, packages } = closure('cli/mcp-stdio.ts');
    const rel = [...files].map((f) => path.relative(root, f));
    expect(rel).toContain('mcp/server.ts');
    expect(rel).not.toContain('mcp/http-sessions.ts');
    expect([...packages]).not.toContain('@modelcontextprotocol/sdk/server/streamableHttp.js');
    expect([...packages]).not.toContain('node:http');
  });

  it('the HTTP sessions file is the one MCP file with the HTTP transport', () => {
    const { packages } = closure('mcp/http-sessions.ts');
    expect([...packages]).toContain('@modelcontextprotocol/sdk/server/streamableHttp.js');
  });
});
