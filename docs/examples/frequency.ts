// The most frequent words of a text. Written in TypeScript: types are stripped at registration.
interface Input {
  text: string;
  top?: number;
}
interface Output {
  top: Array<{ word: string; count: number }>;
}
interface Ctx {
  call(name: string, input: unknown): Promise<any>;
  log(...args: unknown[]): void;
}

export const manifest = {
  name: 'text.frequency',
  version: '1.0.0',
  description: 'The most frequent words of a text',
  inputSchema: {
    type: 'object',
    properties: { text: { type: 'string' }, top: { type: 'integer', minimum: 1, maximum: 100 } },
    required: ['text'],
  },
  outputSchema: { type: 'object', properties: { top: { type: 'array' } }, required: ['top'] },
  dependencies: { 'text.tokenize': '^1.0.0' },
  tests: [
    { name: 'ranks by count', input: { text: 'b a b c b a', top: 2 }, expect: { top: [{ word: 'b', count: 3 }, { word: 'a', count: 2 }] } },
  ],
};

export default async function (input: Input, ctx: Ctx): Promise<Output> {
  const { tokens } = (await ctx.call('text.tokenize', { text: input.text })) as { tokens: string[] };
  const counts = new Map<string, number>();
  for (const t of tokens) counts.set(t, (counts.get(t) ?? 0) + 1);
  const top = [...counts.entries()]
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .slice(0, input.top ?? 3)
    .map(([word, count]) => ({ word, count }));
  ctx.log(`ranked ${counts.size} distinct words`);
  return { top };
}
