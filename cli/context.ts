// What every command gets: the global options, where output goes (styled for a terminal, plain
// when piped), the resolved kernel target and a lazily opened client.

import { SubstrateClient, type ConnectOptions } from '../kernel/client.ts';
import { colorEnabled, formatJson, makeStyle, type Style } from './format.ts';
import { resolveTarget, type Target } from './target.ts';

export interface GlobalOptions {
  url?: string;
  token?: string;
  data?: string;
  json?: boolean;
}

export class Ctx {
  readonly style: Style;
  readonly errStyle: Style;
  private targetCache: Target | undefined;
  private clientPromise: Promise<SubstrateClient> | undefined;

  private getOptions: () => GlobalOptions = () => ({});
  /** Set by commands whose work may outlive their action (mcp): the process then ends by itself. */
  lingering = false;

  constructor(
    readonly env: NodeJS.ProcessEnv = process.env,
    readonly stdout: NodeJS.WriteStream = process.stdout,
    readonly stderr: NodeJS.WriteStream = process.stderr,
  ) {
    this.style = makeStyle(colorEnabled(stdout, env));
    this.errStyle = makeStyle(colorEnabled(stderr, env));
  }

  /** Where the global options come from (the parsed program). */
  bindOptions(getter: () => GlobalOptions): void {
    this.getOptions = getter;
  }

  get options(): GlobalOptions {
    return this.getOptions();
  }

  get json(): boolean {
    return !!this.options.json;
  }

  get isTTY(): boolean {
    return !!this.stdout.isTTY;
  }

  get columns(): number | undefined {
    return this.stdout.isTTY ? this.stdout.columns : undefined;
  }

  /** The target, once resolved (errors use it to say where the URL and token came from). */
  get resolvedTarget(): Target | undefined {
    return this.targetCache;
  }

  target(): Target {
    this.targetCache ??= resolveTarget(this.options, this.env);
    return this.targetCache;
  }

  client(opts: Omit<ConnectOptions, 'token'> = {}): Promise<SubstrateClient> {
    const t = this.target();
    this.clientPromise ??= SubstrateClient.connect(t.url, { ...opts, token: t.token });
    return this.clientPromise;
  }

  print(text = ''): void {
    this.stdout.write(`${text}\n`);
  }

  /** A note for people (to stderr, so stdout stays the command's output). */
  note(text: string): void {
    this.stderr.write(`${text}\n`);
  }

  /** The single JSON document of --json. */
  printJson(doc: unknown): void {
    this.stdout.write(`${formatJson(doc, true)}\n`);
  }

  async close(): Promise<void> {
    const p = this.clientPromise;
    this.clientPromise = undefined;
    if (!p) return;
    try {
      await (await p).close();
    } catch {
      // The connection never opened: nothing to close.
    }
  }
}
