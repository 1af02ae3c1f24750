// The shapes the console reads from the kernel (a subset of capabilities/protocol/, which is Node
// code the page does not import): only the fields it shows.

export type GraphNode =
  | { kind: 'capability'; name: string; version: string; current: boolean; description: string }
  | { kind: 'namespace'; name: string; version: null };

export type GraphEdge =
  | { kind: 'call'; from: string; fromVersion: string; to: string; range: string; resolved: string | null; enqueue?: true }
  | { kind: 'state'; from: string; fromVersion: string; to: string; access: string; range: null; resolved: null };

export interface Graph {
  generation: number;
  nodes: GraphNode[];
  edges: GraphEdge[];
}

export interface Manifest {
  name: string;
  version: string;
  description?: string;
  inputSchema?: JsonSchema;
  outputSchema?: JsonSchema;
  tests?: { name: string; input?: unknown }[];
  [k: string]: unknown;
}

export interface Describe {
  name: string;
  version: string;
  hash: string;
  current: boolean;
  manifest: Manifest;
  source: string;
  language: 'js' | 'ts';
  dependencies: { name: string; range: string; resolved: string | null }[];
  dependents: string[];
  owner: string;
  createdAt: string;
}

export interface Impact {
  name: string;
  dependents: string[];
  tests: { capability: string; version: string; test: string }[];
}

export interface Change {
  op: string;
  name: string;
  version: string | null;
  previous: string | null;
  activated: boolean;
}

export interface HistoryItem {
  generation: number;
  at: string;
  principal: string;
  changes: Change[];
}

export interface ListItem {
  name: string;
  current: string | null;
  versions: string[];
  description: string;
}

export interface InvokeResult {
  output: unknown;
  name: string;
  version: string;
  generation: number;
  invocationId: string;
  durationMs: number;
}

export interface LogLine {
  invocationId: string;
  name: string;
  version: string;
  level: string;
  message: string;
  at: string;
}

export interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  enum?: unknown[];
  [k: string]: unknown;
}
