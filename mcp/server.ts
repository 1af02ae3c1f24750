// One MCP Server over a backend: the whole tool logic, whichever the transport (tools/list built
// from the current capabilities plus the management tools, tools/call mapped onto protocol methods,
// errors turned into results, list_changed after every commit). The transports are
// mcp/http-sessions.ts (Streamable HTTP on the kernel's /mcp) and cli/mcp-stdio.ts; this file
// imports neither. See docs/mcp.md.

import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { CallToolRequestSchema, ListToolsRequestSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { checkValueDepth, MAX_MESSAGE_DEPTH } from '../capabilities/json-limits.ts';
import type { Json } from '../capabilities/types.ts';
import type { McpBackend, McpProgress } from './backend.ts';
import { META_VERSION, capabilityTool } from './capability-tools.ts';
import { Catalog } from './catalog.ts';
import { changedNames, errorResult, toToolError } from './errors.ts';
import { MANAGEMENT, MANAGEMENT_TOOLS } from './management-tools.ts';
import { isPlainObject } from './plain-object.ts';
import { capabilityNameOf, toolNameOf } from './tool-names.ts';

export interface McpServerOptions {
  /** Where to report errors that have no caller to go to (default: ignored). */
  onError?: (e: unknown) => void;
  /** The version the server reports in `initialize`: the kernel's own (kernel/version.ts), passed
   *  in by the transports because mcp/ does not import kernel/. */
  version?: string;
}

const INSTRUCTIONS = `Substrate hosts capabilities: small sandboxed functions with JSON input and output, versioned and tested. Every current capability is a tool named after it with "." written "__" (text.wordcount is text__wordcount). With an agent or operator token, the substrate_* tools write and upgrade capabilities: substrate_describe and substrate_impact before a change, substrate_register or substrate_apply to make it. Every change is gated by the tests of what it touches; a refused change reports the failing test and commits nothing. The tool list changes after every commit (notifications/tools/list_changed).`;

function codeUnitCompare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** One MCP Server over a backend: the whole tool logic, whichever the transport. */
export function createMcpServer(backend: McpBackend, opts: McpServerOptions = {}): Server {
  const server = new Server({ name: 'substrate', title: 'Substrate', version: opts.version ?? '0.0.0' }, { capabilities: { tools: { listChanged: true } }, instructions: INSTRUCTIONS });
  const catalog = new Catalog(backend);

  server.setRequestHandler(ListToolsRequestSchema, async () => {
    const tools = [...(await catalog.tools()).values()].map((t) => t.tool);
    if (await backend.canManage()) for (const name of MANAGEMENT_TOOLS) tools.push(MANAGEMENT[name].tool);
    tools.sort((a, b) => codeUnitCompare(a.name, b.name));
    return { tools };
  });

  server.setRequestHandler(CallToolRequestSchema, async (req, extra): Promise<CallToolResult> => {
    const name = req.params.name;
    const args: Record<string, unknown> = req.params.arguments ?? {};
    const token = req.params._meta?.progressToken;
    let sent = 0;
    const onProgress =
      token === undefined
        ? undefined
        : (p: McpProgress): void => {
            const what = [p.phase, p.capability, p.version, p.test ? `"${p.test}"` : undefined].filter(Boolean).join(' ');
            extra
              .sendNotification({ method: 'notifications/progress', params: { progressToken: token, progress: ++sent, message: `${what} (${p.done}/${p.total})` } })
              .catch(() => undefined);
          };
    try {
      // Before anything walks or serializes the arguments again (zod, the kernel client's JSON):
      // both transports come through here. `arguments` sits where `params` does on the wire.
      checkValueDepth(args, 'the tool arguments', { what: 'arguments' }, MAX_MESSAGE_DEPTH - 1);
      const mgmt = Object.prototype.hasOwnProperty.call(MANAGEMENT, name) ? MANAGEMENT[name] : undefined;
      if (mgmt) {
        if (!(await backend.canManage())) {
          return errorResult({ type: 'FORBIDDEN', message: `${name} is not allowed for role client: it needs an agent or operator token`, data: { tool: name } }, name);
        }
        const result = await backend.call(mgmt.method, args as never, onProgress);
        return {
          content: [{ type: 'text', text: mgmt.summarize(result) }],
          structuredContent: result as unknown as Record<string, unknown>,
        };
      }
      const capability = capabilityNameOf(name);
      if (!capability) {
        return errorResult({ type: 'NOT_FOUND', message: `no tool '${name}'; list the tools again to see what exists`, data: { tool: name } }, name);
      }
      return await invoke(capability, args);
    } catch (e) {
      return errorResult(toToolError(e), name, Object.prototype.hasOwnProperty.call(MANAGEMENT, name) ? changedNames(args) : undefined);
    }
  });

  async function invoke(capability: string, args: Record<string, unknown>): Promise<CallToolResult> {
    const listed = (await catalog.tools()).get(toolNameOf(capability));
    const input = (listed?.inputWrapped ? args.input : args) as Json;
    const res = await backend.call('capabilities/invoke', { name: capability, input: input === undefined ? null : input });
    // Shape the output by the version that actually ran (a commit may have come in between).
    const shape = listed && listed.version === res.version ? listed : capabilityTool(await catalog.version(res.name, res.version));
    const result: CallToolResult = {
      content: [{ type: 'text', text: JSON.stringify(res.output) }],
      _meta: { [META_VERSION]: res.version, 'substrate/generation': res.generation, 'substrate/invocationId': res.invocationId, 'substrate/durationMs': res.durationMs },
    };
    if (shape.output === 'object' && isPlainObject(res.output)) result.structuredContent = res.output;
    else if (shape.output !== 'none') result.structuredContent = { result: res.output };
    return result;
  }

  const off = backend.onCommit(() => {
    catalog.invalidate();
    server.sendToolListChanged().catch((e: unknown) => opts.onError?.(e));
  });
  const prev = server.onclose;
  server.onclose = () => {
    off();
    prev?.();
  };
  return server;
}
