// A current capability as an MCP tool: its manifest's schemas shaped the way MCP wants them (an
// object root; anything else wrapped under one property), its version and hash in `_meta`, and
// `openWorldHint` saying whether it may reach the network (its manifest declares effects.http).

import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import type { JsonObject } from '../capabilities/types.ts';
import { isPlainObject } from './plain-object.ts';
import { toolNameOf } from './tool-names.ts';

export const META_VERSION = 'substrate/version';
export const META_HASH = 'substrate/hash';

export type ToolSchema = Tool['inputSchema'];

/** A current capability as a tool, with how its arguments and output are shaped. */
export interface CapabilityTool {
  tool: Tool;
  capability: string;
  version: string;
  /** The manifest's inputSchema is not an object schema: the input travels as `arguments.input`. */
  inputWrapped: boolean;
  /** 'none': no outputSchema; 'object': output is the structuredContent; 'wrapped': { result: output }. */
  output: 'none' | 'object' | 'wrapped';
}

export interface VersionInfo {
  name: string;
  version: string;
  hash: string;
  description: string;
  inputSchema?: JsonObject;
  outputSchema?: JsonObject;
  /** The manifest declares effects.http: calls may reach the world beyond the kernel. */
  openWorld?: boolean;
}

/** MCP wants `properties` values to be objects; JSON Schema also allows booleans there. */
function objectRoot(schema: JsonObject): ToolSchema {
  const out: Record<string, unknown> = { ...schema, type: 'object' };
  if (isPlainObject(schema.properties)) {
    const props: Record<string, object> = {};
    for (const [k, v] of Object.entries(schema.properties)) props[k] = v === true ? {} : v === false ? { not: {} } : isPlainObject(v) ? v : {};
    out.properties = props;
  }
  return out as ToolSchema;
}

/** A non-object schema under one property of an object root; `$defs` move to the root so that
 *  `#/$defs/...` references still resolve. */
function wrapSchema(schema: JsonObject, key: string): ToolSchema {
  // `$id` stays off the inner schema: it would change the base that references resolve against.
  const { $defs, definitions, $schema, $id: _id, ...inner } = schema;
  const out: Record<string, unknown> = { type: 'object', properties: { [key]: inner }, required: [key], additionalProperties: false };
  if ($schema !== undefined) out.$schema = $schema;
  if ($defs !== undefined) out.$defs = $defs;
  if (definitions !== undefined) out.definitions = definitions;
  return out as ToolSchema;
}

export function capabilityTool(v: VersionInfo): CapabilityTool {
  let inputSchema: ToolSchema = { type: 'object' };
  let inputWrapped = false;
  const inS = v.inputSchema;
  if (inS) {
    if (inS.type === 'object' || (inS.type === undefined && isPlainObject(inS.properties))) inputSchema = objectRoot(inS);
    else {
      inputSchema = wrapSchema(inS, 'input');
      inputWrapped = true;
    }
  }
  let outputSchema: ToolSchema | undefined;
  let output: CapabilityTool['output'] = 'none';
  const outS = v.outputSchema;
  if (outS) {
    if (outS.type === 'object') {
      outputSchema = objectRoot(outS);
      output = 'object';
    } else {
      outputSchema = wrapSchema(outS, 'result');
      output = 'wrapped';
    }
  }
  const meta: Record<string, unknown> = { [META_VERSION]: v.version, [META_HASH]: v.hash, 'substrate/name': v.name };
  if (inputWrapped) meta['substrate/inputWrapped'] = true;
  if (output === 'wrapped') meta['substrate/outputWrapped'] = true;
  const about = `Substrate capability ${v.name} ${v.version}.${inputWrapped ? ' Pass the input as `input`.' : ''}`;
  const tool: Tool = {
    name: toolNameOf(v.name),
    description: v.description ? `${v.description}\n\n${about}` : about,
    inputSchema,
    annotations: { openWorldHint: v.openWorld === true },
    _meta: meta,
  };
  if (outputSchema) tool.outputSchema = outputSchema;
  return { tool, capability: v.name, version: v.version, inputWrapped, output };
}
