/**
 * One PGlite directory, one server: PGlite has no lock of its own, and two
 * instances on one directory corrupt it for good.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { InvalidOptionError } from '../../lib/index.js'
import { startDataStorageServer } from '../../lib/server/index.js'
import { silentLogger } from '../helpers/fixtures.js'
import { tempDir } from '../helpers/temp-dir.js'

test('a second server on a PGlite directory another server uses fails with InvalidOptionError, and the directory stays usable', async (t) => {
  const dir = tempDir(t, 'pglite-lock-')
  const a = await startDataStorageServer({ database: dir, logger: silentLogger })
  await assert.rejects(startDataStorageServer({ database: dir, logger: silentLogger }), (err: unknown) => {
    assert.ok(err instanceof InvalidOptionError)
    assert.match(err.message, /no other server uses \(process \d+ holds/)
    return true
  })
  assert.equal((await fetch(`${a.url}/health/ready`)).status, 200)
  await a.close()
  const b = await startDataStorageServer({ database: dir, logger: silentLogger })
  assert.equal((await fetch(`${b.url}/health/ready`)).status, 200)
  await b.close()
})

test('a PGlite directory lock left by a process that no longer runs, or by an earlier process with this pid, is taken over', async (t) => {
  for (const holder of ['2147483646', String(process.pid)]) {
    const dir = tempDir(t, 'pglite-stale-')
    writeFileSync(join(dir, 'audit-stream.lock'), holder)
    const server = await startDataStorageServer({ database: dir, logger: silentLogger })
    await server.close()
  }
})
