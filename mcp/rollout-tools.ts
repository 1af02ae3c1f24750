// The rollout tools (docs/evaluation.md, "Rollouts"): substrate_rollout, substrate_rollout_get,
// substrate_rollout_abort, substrate_rollout_promote. A model acts on their results without reading
// prose: each answers the rollout as JSON — status, weight, every step's verdict (the contract's
// verdict JSON) — with `next`, the action to take, first.

import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import type { MethodName } from '../capabilities/protocol/methods.ts';
import type { RolloutInfo, RolloutsGetResult } from '../capabilities/protocol/types.ts';

/** management-tools.ts's ManagementTool, restated: importing it would make a cycle. */
interface ManagementTool {
  method: MethodName;
  tool: Tool;
  summarize(result: unknown): string;
}

/** One rollout for a model: what to do next, the latest verdict, then the whole rollout. */
export function rolloutText(r: RolloutInfo): string {
  const verdicts = r.history.filter((h) => h.verdict).map((h) => h.verdict);
  return JSON.stringify({ next: r.next, status: r.status, weight: r.weight, verdict: verdicts.at(-1) ?? null, rollout: r }, null, 2);
}

export function rolloutTools(input: (m: MethodName) => Tool['inputSchema']): Record<string, ManagementTool> {
  const one = (name: string, method: MethodName, title: string, description: string, annotations: Tool['annotations'], summarize: (r: unknown) => string): [string, ManagementTool] => [
    name,
    { method, tool: { name, title, description, inputSchema: input(method), annotations }, summarize },
  ];
  const single = (r: unknown) => rolloutText(r as RolloutInfo);
  return Object.fromEntries([
    one(
      'substrate_rollout',
      'capabilities/rollout',
      'Roll out a version gradually',
      'Canary rollout of a version of a capability (registered, or pass its source): after its gates pass it serves steps[0] percent of the calls (default steps 5, 25, 50, 100; stepS 60 s each), a whole call tree seeing one version. At each step end it is compared with the current version (enough calls, error-rate delta, p99 ratio): pass goes on and 100 makes it current, fail sends all traffic back. Returns at once; follow it with substrate_rollout_get. While it runs, other changes to the name are refused (ROLLOUT_ACTIVE).',
      { destructiveHint: false },
      single,
    ),
    one(
      'substrate_rollout_get',
      'rollouts/get',
      'Rollout status',
      "Rollouts (of one capability or all), newest first: status (running, promoted, aborted), the canary's weight, live calls/error rates/p99s of both versions in the running step, and every step's verdict with its checks and reasons.",
      { readOnlyHint: true },
      (r) => {
        const items = (r as RolloutsGetResult).items;
        return items.length === 0 ? JSON.stringify({ next: 'no rollouts; start one with substrate_rollout', items }) : items.map(rolloutText).join('\n');
      },
    ),
    one('substrate_rollout_abort', 'rollouts/abort', 'Abort a rollout', 'Sends all traffic of a running rollout back to the current version at once (calls already on the canary finish on it).', { destructiveHint: true }, single),
    one('substrate_rollout_promote', 'rollouts/promote', 'Promote a rollout', "Makes a running rollout's canary current now, without waiting for its remaining steps (gated again).", { destructiveHint: false }, single),
  ]);
}
