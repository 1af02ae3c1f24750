// JSON Schemas derived from the protocol's zod schemas (z.toJSONSchema, zod 4): the MCP management
// tools' inputSchema and the types of docs/protocol.md's generated tables.

import { z } from 'zod';
import { jsonObject, jsonValue } from './common.ts';

export type JsonSchema = { [key: string]: unknown };

/** The input side of a params schema (what a caller may send: optional keys, defaults shown), as
 *  a JSON Schema object. An optional params object (a method callable without params) is unwrapped:
 *  a tool's arguments are always an object. `$schema` is left out (tools lists stay small; MCP
 *  assumes 2020-12). Any JSON value (jsonValue, a recursive zod union) is written `{}` with its
 *  description, not as `$defs` of an anyOf: it says the same to a reader, and that is what the
 *  hand-written schemas said. */
export function paramsJsonSchema(schema: z.ZodType): JsonSchema {
  const inner = schema instanceof z.ZodOptional ? (schema.unwrap() as z.ZodType) : schema;
  const out = z.toJSONSchema(inner, {
    io: 'input',
    unrepresentable: 'any',
    override: (ctx) => {
      const zs: unknown = ctx.zodSchema;
      if (zs === jsonValue) {
        for (const k of Object.keys(ctx.jsonSchema)) delete (ctx.jsonSchema as JsonSchema)[k];
        ctx.jsonSchema.description = 'any JSON value';
      } else if (zs === jsonObject) {
        // A JSON object (a manifest): its values are any JSON, nothing to add.
        delete ctx.jsonSchema.propertyNames;
        delete ctx.jsonSchema.additionalProperties;
      }
    },
  }) as JsonSchema;
  delete out.$schema;
  if (out.$defs !== undefined && !JSON.stringify(out).includes('"#/$defs/')) delete out.$defs;
  return out;
}

/** The output side of a result schema, for documentation. */
export function resultJsonSchema(schema: z.ZodType): JsonSchema {
  const out = z.toJSONSchema(schema, { io: 'output', unrepresentable: 'any' }) as JsonSchema;
  delete out.$schema;
  return out;
}
