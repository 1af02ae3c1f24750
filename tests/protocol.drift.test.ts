// The one protocol source against everything derived from it or written beside it: docs/protocol.md
// (its generated section, its roles table, the hand-written `Params:`/`Result:` lines), the MCP
// management tools' inputSchemas, and kernel/rpc.ts's method table. Fails when any of them drifts.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { protocolDocsIn, renderProtocolDocs } from '../capabilities/protocol/docs.ts';
import { paramsJsonSchema } from '../capabilities/protocol/json-schema.ts';
import { METHOD_NAMES, PROTOCOL, type MethodName } from '../capabilities/protocol/methods.ts';
import { MANAGEMENT, MANAGEMENT_TOOLS } from '../mcp/management-tools.ts';
import { METHODS } from '../kernel/rpc.ts';

const doc = readFileSync(new URL('../docs/protocol.md', import.meta.url), 'utf8');

/** The top-level keys of a `{ a, b?, c: [ … ] }` text, `?` kept; `= default` and values dropped. */
function topKeys(text: string): string[] {
  const inner = text.trim().replace(/^\{/, '').replace(/\}$/, '');
  const parts: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of inner) {
    if ('[{('.includes(ch)) depth++;
    if (']})'.includes(ch)) depth--;
    if (ch === ',' && depth === 0) {
      parts.push(cur);
      cur = '';
    } else cur += ch;
  }
  if (cur.trim()) parts.push(cur);
  return parts.map((p) => p.trim().split(/[:=\s]/)[0]).filter(Boolean);
}

/** The hand-written `- **Params:**` / `- **Result:**` object of a method's section, or null for none. */
function written(method: string, label: 'Params' | 'Result'): string[] | null {
  const start = doc.search(new RegExp(`^### ${method.replace('/', '\\/')}( |$)`, 'm'));
  expect(start, `docs/protocol.md has a section for ${method}`).toBeGreaterThan(0);
  const section = doc.slice(start, doc.indexOf('\n### ', start + 4));
  const at = section.indexOf(`- **${label}:** `);
  expect(at, `${method} documents its ${label}`).toBeGreaterThan(0);
  const rest = section.slice(at + `- **${label}:** `.length);
  if (rest.startsWith('none')) return null;
  expect(rest.startsWith('`{'), `${method} ${label} is written as \`{ ... }\``).toBe(true);
  return topKeys(rest.slice(1, rest.indexOf('`', 1)).replace(/\s+/g, ' '));
}

/** What the schema says, in the same notation: `key` or `key?` (output side: after defaults). */
function schemaKeys(schema: z.ZodType, io: 'input' | 'output'): string[] {
  const inner = schema instanceof z.ZodOptional ? (schema.unwrap() as z.ZodType) : schema;
  const js = z.toJSONSchema(inner, { io, unrepresentable: 'any' }) as { properties?: Record<string, unknown>; required?: string[] };
  return Object.keys(js.properties ?? {}).map((k) => ((js.required ?? []).includes(k) ? k : `${k}?`));
}

describe('the protocol source', () => {
  it('docs/protocol.md holds the generated section as the schemas render it now (npm run docs:protocol)', () => {
    expect(protocolDocsIn(doc)).toBe(renderProtocolDocs());
  });

  it.each(METHOD_NAMES)("docs/protocol.md's hand-written params and result of %s name the schema's fields", (m: MethodName) => {
    const params = written(m, 'Params')?.filter((k) => k !== 'progress?') ?? [];
    expect(params.sort()).toEqual(schemaKeys(PROTOCOL[m].params, 'output').sort());
    const result = written(m, 'Result') ?? [];
    expect(result.map((k) => k.replace(/\?$/, '')).sort()).toEqual(schemaKeys(PROTOCOL[m].result, 'output').map((k) => k.replace(/\?$/, '')).sort());
  });

  it("docs/protocol.md's roles table gives each method the protocol's roles", () => {
    const start = doc.indexOf('| method | operator | agent | client |');
    expect(start).toBeGreaterThan(0);
    const table = doc.slice(start, doc.indexOf('\n\n', start)).split('\n').slice(2);
    const seen = new Map<string, string[]>();
    for (const row of table) {
      const cells = row.split('|').slice(1, -1).map((c) => c.trim());
      // A cell with anything but "–" allows the role (✓, or a restriction such as "owned names").
      const roles = (['operator', 'agent', 'client'] as const).filter((_r, i) => cells[i + 1] !== '–');
      for (const m of cells[0].matchAll(/`([a-z]+\/[a-zA-Z]+)`/g)) seen.set(m[1], roles);
    }
    expect([...seen.keys()].sort()).toEqual([...METHOD_NAMES].sort());
    for (const m of METHOD_NAMES) expect(seen.get(m), m).toEqual([...PROTOCOL[m].roles]);
  });

  it("the MCP management tools take their methods' params schemas", () => {
    expect(MANAGEMENT_TOOLS.length).toBeGreaterThan(0);
    for (const name of MANAGEMENT_TOOLS) {
      const t = MANAGEMENT[name];
      expect(t.tool.name).toBe(name);
      expect(t.tool.inputSchema).toEqual(paramsJsonSchema(PROTOCOL[t.method].params));
      expect(t.tool.inputSchema.type).toBe('object');
    }
  });

  it("kernel/rpc.ts serves exactly the protocol's methods, with its roles and params schemas", () => {
    expect(Object.keys(METHODS).sort()).toEqual([...METHOD_NAMES].sort());
    for (const m of METHOD_NAMES) {
      expect(METHODS[m].roles).toEqual(PROTOCOL[m].roles);
      expect(METHODS[m].params).toBe(PROTOCOL[m].params);
    }
  });
});
