// The one shape test the MCP files share: a JSON object, not null and not an array.

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
