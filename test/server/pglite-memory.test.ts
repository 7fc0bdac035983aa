/**
 * In-memory PGlite databases of one process: from the third on they start
 * from a dump of the second one's fresh data directory. Each must still be a
 * database of its own, as fresh as initdb leaves it, whatever was done to
 * the others before or while it opened.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { Database } from '../../lib/server/database.js'
import { openDatabase } from '../../lib/server/open-database.js'

// initdb draws a new system identifier (from the clock) for every cluster it makes; a data
// directory loaded from a dump keeps the one of the cluster it was dumped from.
async function systemIdentifier (db: Database): Promise<string> {
  const { rows } = await db.query<{ id: string }>('SELECT system_identifier::text AS id FROM pg_control_system()')
  return rows[0]!.id
}

async function tables (db: Database): Promise<string[]> {
  const { rows } = await db.query<{ name: string }>("SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1")
  return rows.map((r) => r.name)
}

test('every in-memory database starts empty and stays apart from the others, including those started from the dump', async (t) => {
  const first = await openDatabase('memory://')
  t.after(() => first.close())
  await first.query('CREATE TABLE first_only (n int)')
  await first.query('INSERT INTO first_only VALUES (1)')
  // The second is dumped before it is returned: writing to it at once must not reach the dump.
  const second = await openDatabase('memory://')
  t.after(() => second.close())
  await second.query('CREATE TABLE second_only (n int)')
  const [third, fourth] = await Promise.all([openDatabase('memory://'), openDatabase('memory://')])
  t.after(() => third.close())
  t.after(() => fourth.close())
  const ids = await Promise.all([first, second, third, fourth].map(systemIdentifier))
  assert.notEqual(ids[1], ids[0], 'the first two databases each ran initdb')
  assert.deepEqual([ids[2], ids[3]], [ids[1], ids[1]], 'the third and fourth databases were loaded from the dump of the second, not made by initdb')
  assert.deepEqual(await tables(third), [])
  assert.deepEqual(await tables(fourth), [])
  await third.query('CREATE TABLE third_only (n int)')
  assert.deepEqual(await tables(fourth), [], 'a write to one dumped database is not seen by another')
  assert.deepEqual(await tables(first), ['first_only'])
  assert.deepEqual(await tables(second), ['second_only'])
  const { rows } = await fourth.query<{ tz: string, enc: string }>("SELECT current_setting('TimeZone') AS tz, pg_encoding_to_char(encoding) AS enc FROM pg_database WHERE datname = current_database()")
  assert.deepEqual(rows, [{ tz: 'UTC', enc: 'UTF8' }], 'a database from the dump has initdb\'s settings')
})
