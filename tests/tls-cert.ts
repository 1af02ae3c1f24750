// A self-signed certificate for a host name, made with the system's openssl (.ci/run installs it),
// for tests that need a real HTTPS server on 127.0.0.1 under a name. The files live in a temp dir
// that is removed at once: the PEM text is all a test needs.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export function selfSignedCertificate(name: string): { key: string; cert: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'substrate-tls-'));
  try {
    try {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'), '-days', '2', '-subj', `/CN=${name}`, '-addext', `subjectAltName=DNS:${name}`], { stdio: 'ignore' });
    } catch (e) {
      throw new Error(`openssl could not make a test certificate (apt-get install openssl): ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
    return { key: fs.readFileSync(path.join(dir, 'key.pem'), 'utf8'), cert: fs.readFileSync(path.join(dir, 'cert.pem'), 'utf8') };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
