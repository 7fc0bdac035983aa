/**
 * A throwaway PostgreSQL cluster of a test's own (initdb into a temp
 * directory, a free port), like .ci/start-postgres makes, for tests that
 * restart or stop PostgreSQL: the shared DATABASE_URL cluster is never
 * touched. Runs the binaries as the `postgres` user when the test runs as root.
 */
import { execFile } from 'node:child_process'
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { chown, mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)

/** The newest PostgreSQL bin directory with initdb and pg_ctl, if any. */
export function postgresBin (): string | undefined {
  const root = '/usr/lib/postgresql'
  if (!existsSync(root)) return undefined
  const versions = readdirSync(root).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a))
  for (const version of versions) {
    const bin = join(root, version, 'bin')
    if (existsSync(join(bin, 'initdb')) && existsSync(join(bin, 'pg_ctl'))) return bin
  }
  return undefined
}

/** Why a private cluster cannot be started here, or undefined when it can. */
export function privatePostgresUnavailable (): string | undefined {
  if (postgresBin() === undefined) return 'the PostgreSQL server binaries (initdb, pg_ctl) are not installed under /usr/lib/postgresql'
  // initdb refuses to run as root; as root the binaries run as the postgres user.
  if (process.getuid?.() === 0 && !readFileSync('/etc/passwd', 'utf8').split('\n').some((line) => line.startsWith('postgres:'))) {
    return 'running as root and there is no postgres user to run the PostgreSQL binaries as'
  }
  return undefined
}

export interface PrivatePostgres {
  /** A connection URL for the cluster's `postgres` database. */
  readonly url: string
  /** `pg_ctl restart -m fast`: every connection is cut, and the server is back when this resolves. */
  restart (): Promise<void>
  /** Stops the cluster and removes its files. */
  stop (): Promise<void>
}

/** A port that was free a moment ago on 127.0.0.1. */
export async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}

/** Starts a cluster on a free port. */
export async function startPrivatePostgres (): Promise<PrivatePostgres> {
  const bin = postgresBin()
  if (bin === undefined) throw new Error('PostgreSQL binaries not found')
  const asRoot = process.getuid?.() === 0
  const dir = await mkdtemp(join(tmpdir(), 'audit-stream-private-pg-'))
  if (asRoot) {
    const { stdout } = await run('id', ['-u', 'postgres'])
    const { stdout: gid } = await run('id', ['-g', 'postgres'])
    await chown(dir, Number(stdout.trim()), Number(gid.trim()))
  }
  // Paths are ours (mkdtemp, /usr/lib/postgresql) and hold no quotes.
  const sh = async (command: string): Promise<void> => {
    if (asRoot) await run('su', ['postgres', '-s', '/bin/sh', '-c', command])
    else await run('/bin/sh', ['-c', command])
  }
  const data = join(dir, 'data')
  const port = await freePort()
  await sh(`'${bin}/initdb' -D '${data}' --auth=trust --username=postgres --encoding=UTF8 --locale=C.UTF-8 >/dev/null`)
  const ctl = `'${bin}/pg_ctl' -D '${data}' -l '${join(dir, 'log')}' -w`
  await sh(`${ctl} -o "-p ${port} -k '${dir}' -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null`)
  let stopped: Promise<void> | undefined
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    restart: () => sh(`${ctl} -m fast restart >/dev/null`),
    stop: () => {
      stopped ??= (async () => {
        await sh(`${ctl} -m fast stop >/dev/null`).catch(() => {})
        await rm(dir, { recursive: true, force: true })
      })()
      return stopped
    }
  }
}
