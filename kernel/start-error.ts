// Why a kernel could not start (the data directory is held by another kernel, the port is taken):
// not a protocol error, since no client is connected yet, but typed all the same so that the CLI
// and embedders can tell the cases apart and say what to do.

/** SECRETS_KEY: the store holds secrets and their key file is missing or another key (kernel/secrets.ts). */
export type StartErrorCode = 'DATA_DIR_IN_USE' | 'PORT_IN_USE' | 'SECRETS_KEY';

export class StartError extends Error {
  constructor(
    readonly code: StartErrorCode,
    message: string,
    readonly data: { [key: string]: unknown } = {},
  ) {
    super(message);
    this.name = 'StartError';
  }
}
