/**
 * Generates a throwaway CA, a server certificate for 127.0.0.1 and a client
 * certificate with openssl, at test time.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface TlsMaterial {
  ca: string
  serverKey: string
  serverCert: string
  clientKey: string
  clientCert: string
}

export function makeTlsMaterial (): TlsMaterial {
  const dir = mkdtempSync(join(tmpdir(), 'audit-tls-'))
  const f = (name: string): string => join(dir, name)
  const openssl = (...args: string[]): void => { execFileSync('openssl', args, { stdio: 'pipe' }) }
  try {
    openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=audit-stream test CA', '-keyout', f('ca.key'), '-out', f('ca.crt'))
    writeFileSync(f('server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n')
    openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1', '-keyout', f('server.key'), '-out', f('server.csr'))
    openssl('x509', '-req', '-in', f('server.csr'), '-CA', f('ca.crt'), '-CAkey', f('ca.key'), '-CAcreateserial', '-days', '1', '-extfile', f('server.ext'), '-out', f('server.crt'))
    openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=audit-client', '-keyout', f('client.key'), '-out', f('client.csr'))
    openssl('x509', '-req', '-in', f('client.csr'), '-CA', f('ca.crt'), '-CAkey', f('ca.key'), '-CAcreateserial', '-days', '1', '-out', f('client.crt'))
    const read = (name: string): string => readFileSync(f(name), 'utf8')
    return { ca: read('ca.crt'), serverKey: read('server.key'), serverCert: read('server.crt'), clientKey: read('client.key'), clientCert: read('client.crt') }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
