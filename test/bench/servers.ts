/**
 * Reference servers for the scenarios: a PostgreSQL database of its own on
 * DATABASE_URL, dropped afterwards, and `audit-stream serve` child processes.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import pg from 'pg'

export const ROOT = fileURLToPath(new URL('../../', import.meta.url))

/** Why the PostgreSQL rows are skipped, or undefined when DATABASE_URL is set. */
export function noPostgres (): string | undefined {
  return process.env.DATABASE_URL === undefined || process.env.DATABASE_URL === '' ? 'skipped: DATABASE_URL is not set' : undefined
}

/** Runs `fn` with the URL of a fresh database on DATABASE_URL's server, dropped afterwards. */
export async function withDatabase<T> (fn: (url: string) => Promise<T>): Promise<T> {
  const admin = new pg.Client({ connectionString: process.env.DATABASE_URL })
  await admin.connect()
  const name = `audit_bench_${randomUUID().replaceAll('-', '')}`
  await admin.query(`CREATE DATABASE ${name}`)
  try {
    const url = new URL(process.env.DATABASE_URL!)
    url.pathname = `/${name}`
    return await fn(url.toString())
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
    await admin.end()
  }
}

/** A reference server in a child process (`audit-stream serve`), on the other core. */
export interface ServeProcess {
  readonly url: string
  readonly child: ChildProcess
}

/** Starts `audit-stream serve --port 0 --database <database>` and waits for its URL. */
export async function startServe (database: string): Promise<ServeProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'lib/cli/index.ts', 'serve', '--port', '0', '--database', database], { cwd: ROOT, stdio: ['ignore', 'pipe', 'ignore'] })
  const url = await new Promise<string>((resolve, reject) => {
    let text = ''
    child.stdout!.on('data', (chunk: Buffer) => {
      text += chunk.toString()
      const match = /listening on (\S+)/.exec(text)
      if (match !== null) resolve(match[1]!)
    })
    child.once('exit', (code) => reject(new Error(`audit-stream serve exited with ${code}`)))
  })
  return { url, child }
}

/** Stops a child with SIGTERM (a graceful close) and waits for it to exit. */
export async function stop (child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGTERM')
  await exited
}
