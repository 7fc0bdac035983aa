/**
 * When the dump of a process's second in-memory database fails, nothing
 * else does: that database and every later one open fresh, with initdb.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { PGlite } from '@electric-sql/pglite'
import { openDatabase } from '../../lib/server/open-database.js'

test('a failed dump of the fresh data directory leaves every in-memory database working, each fresh', async (t) => {
  const dump = PGlite.prototype.dumpDataDir
  let calls = 0
  PGlite.prototype.dumpDataDir = async function () { calls++; throw new Error('disk full') }
  t.after(() => { PGlite.prototype.dumpDataDir = dump })
  for (let i = 0; i < 3; i++) {
    const db = await openDatabase('memory://')
    t.after(() => db.close())
    await db.query(`CREATE TABLE only_${i} (n int)`)
    const { rows } = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = 'public'")
    assert.deepEqual(rows, [{ n: 1 }])
  }
  assert.equal(calls, 1, 'the second database was dumped once; the failure is not retried')
})
