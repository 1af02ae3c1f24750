// The wire format between an isolate and its host (sandbox/wire.ts): every encoding round-trips,
// and the bootstrap the isolate runs speaks the same tags (it is built from the same constants).
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { BOOTSTRAP_SOURCE } from '../sandbox/bridge.ts';
import { answer, encodeWrite, EXPORT_FLAG, INSPECT_TAG, nextWrite, parseExportFlags, parseInspectAnswer, parseRunAnswer, TAG, WRITE_TAG, type WireWrite } from '../sandbox/wire.ts';

const write = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), ns: fc.string(), key: fc.string(), value: fc.string() }),
  fc.record({ kind: fc.constant('delete' as const), ns: fc.string(), key: fc.string() }),
);

function decodeAll(w: string): WireWrite[] | null {
  const out: WireWrite[] = [];
  for (let i = 0; i < w.length; ) {
    const r = nextWrite(w, i);
    if (r === null) return null;
    out.push(r.write);
    i = r.next;
  }
  return out;
}

describe('sandbox wire format', () => {
  it('every tag is one distinct letter within its message kind', () => {
    for (const group of [TAG, WRITE_TAG, EXPORT_FLAG, INSPECT_TAG]) {
      const letters = Object.values(group);
      expect(new Set(letters).size).toBe(letters.length);
      for (const l of letters) expect(l).toHaveLength(1);
    }
  });

  it('buffered writes round-trip, whatever the namespace, key and value hold (tag letters, colons, commas)', () => {
    fc.assert(
      fc.property(fc.array(write, { maxLength: 8 }), (ws) => {
        expect(decodeAll(ws.map(encodeWrite).join(''))).toEqual(ws);
      }),
    );
    expect(decodeAll(encodeWrite({ kind: 'set', ns: 's1,2:', key: 'd0,0,0:', value: '' }))).toEqual([{ kind: 'set', ns: 's1,2:', key: 'd0,0,0:', value: '' }]);
  });

  it('malformed write records are refused, not misread', () => {
    for (const bad of ['x1,1,0:ab', 's1,1:ab', 's-1,1,1:abc', 's5,5,5:short', 's1.5,1,1:abc', 'd']) expect(nextWrite(bad, 0)).toBeNull();
  });

  it('answers and run results round-trip', () => {
    fc.assert(
      fc.property(fc.json(), (json) => {
        expect(parseRunAnswer(answer.value(json))).toEqual({ kind: 'output', json });
      }),
    );
    const err = { type: 'STATE_CONFLICT' as const, message: 'm', data: { a: 1 } };
    expect(parseRunAnswer(answer.error(err))).toEqual({ kind: 'typed', error: err });
    expect(parseRunAnswer(TAG.thrown + JSON.stringify({ message: 'boom', stack: 's' }))).toEqual({ kind: 'thrown', message: 'boom', stack: 's' });
    expect(parseRunAnswer('')).toMatchObject({ kind: 'thrown' });
    expect(parseRunAnswer(TAG.typed + '{')).toEqual({ kind: 'thrown', message: 'malformed typed error' });
    expect(answer.undefined()).toBe(TAG.undefined);
  });

  it('export flags and inspect answers decode', () => {
    expect(parseExportFlags(EXPORT_FLAG.default + EXPORT_FLAG.none)).toEqual({ hasDefault: true, hasMigrate: false });
    expect(parseExportFlags(EXPORT_FLAG.none + EXPORT_FLAG.migrate)).toEqual({ hasDefault: false, hasMigrate: true });
    expect(parseInspectAnswer(INSPECT_TAG.ok + 'dm{"a":1}')).toEqual({ ok: true, hasDefault: true, hasMigrate: true, manifestText: '{"a":1}' });
    expect(parseInspectAnswer(INSPECT_TAG.failed + 'why')).toEqual({ ok: false, why: 'why' });
  });

  it('the bootstrap is built from the same constants: no tag is left unresolved in it', () => {
    // The in-isolate half (sandbox/runtime/bridge.ts) imports wire.ts; the bundle carries its tags.
    expect(BOOTSTRAP_SOURCE).not.toContain('${');
    expect(BOOTSTRAP_SOURCE).toContain(`typed: "${TAG.typed}"`);
    expect(BOOTSTRAP_SOURCE).toContain('TAG.typed + ');
    expect(BOOTSTRAP_SOURCE).toContain('=== TAG_VALUE_CODE');
  });
});
