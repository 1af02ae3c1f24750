// Tool names: how a capability name is written as an MCP tool name, and back.

import { NAME_RE } from '../capabilities/names.ts';

/** Tool names: the capability name with every `.` written `__`. The MCP spec (2025-11-25) allows
 *  dots, but widely used clients refuse tool names outside `^[a-zA-Z0-9_-]{1,64}$`. Capability
 *  names never contain `_`, so the mapping is reversible and cannot collide with the management
 *  tools (`substrate_*`, one underscore). */
export function toolNameOf(capability: string): string {
  return capability.replaceAll('.', '__');
}

/** The capability a tool name stands for (the dotted name itself is accepted too). */
export function capabilityNameOf(tool: string): string | undefined {
  const name = tool.replaceAll('__', '.');
  return name.length <= 128 && NAME_RE.test(name) ? name : undefined;
}
