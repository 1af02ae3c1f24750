// Positions in a TypeScript capability's compiled JavaScript mapped back to the source the agent
// wrote. compile.ts appends the source map to the compiled module as an inline
// `//# sourceMappingURL=data:` comment, so the map travels wherever the code does (the store, the
// version payload a worker caches by hash, the isolate) and can never belong to other code. The
// sandbox rewrites the `capability:NAME@VERSION:LINE:COLUMN` positions of stacks and V8 messages
// with it; JavaScript capabilities carry no map and are left as they are.

import { originalPositionFor, TraceMap, LEAST_UPPER_BOUND } from '@jridgewell/trace-mapping';

const INLINE_MAP_PREFIX = '//# sourceMappingURL=data:application/json;base64,';
/** The file name compile.ts gives a TypeScript source: only maps naming it are ours. */
export const TS_SOURCE_FILE = 'capability.ts';

/** A compiled module's own map, or null (JavaScript, or a version compiled before maps existed). */
export function sourceMapOf(compiled: string): TraceMap | null {
  const at = compiled.lastIndexOf(INLINE_MAP_PREFIX);
  if (at === -1) return null;
  try {
    const text = Buffer.from(compiled.slice(at + INLINE_MAP_PREFIX.length).trim(), 'base64').toString('utf8');
    const map = new TraceMap(text);
    return map.sources.length === 1 && map.sources[0] === TS_SOURCE_FILE ? map : null;
  } catch {
    return null;
  }
}

/** 1-based line and column in the source for a 1-based position in the compiled code (V8's
 *  convention), or null when the map has nothing there. */
export function originalPosition(map: TraceMap, line: number, column: number): { line: number; column: number } | null {
  let p = originalPositionFor(map, { line, column: column - 1 });
  // A position inside an emitted token the map starts later on the same line (`throw` of a
  // rewritten statement, say): the next mapped segment is still on the agent's line.
  if (p.line === null) p = originalPositionFor(map, { line, column: column - 1, bias: LEAST_UPPER_BOUND });
  return p.line === null || p.column === null ? null : { line: p.line, column: p.column + 1 };
}

// `capability:text.wordcount@1.0.0:12:9`, `capability:inspect:3:5` (names and versions have no ':').
const POSITION_RE = /(capability:[A-Za-z0-9._@+-]+):(\d+):(\d+)/g;

/** `text` with every capability position mapped through `map`; unmapped positions stay. */
export function mapPositions(text: string, map: TraceMap | null): string {
  if (map === null) return text;
  return text.replace(POSITION_RE, (whole: string, file: string, line: string, column: string) => {
    const p = originalPosition(map, Number(line), Number(column));
    return p === null ? whole : `${file}:${p.line}:${p.column}`;
  });
}

/** The first capability position in `text` (a V8 SyntaxError names it in its message), mapped. */
export function firstPosition(text: string, map: TraceMap | null): { line: number; column: number } | null {
  const m = new RegExp(POSITION_RE.source).exec(text);
  if (!m) return null;
  const line = Number(m[2]);
  const column = Number(m[3]);
  return map === null ? { line, column } : originalPosition(map, line, column) ?? { line, column };
}
