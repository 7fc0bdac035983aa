/**
 * The `audit-stream/server` entry: the reference server lives there, not in
 * the client's entry, and its database drivers are optional peers.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import * as client from '../../lib/index.js'
import { startDataStorageServer } from '../../lib/server/index.js'
import { silentLogger } from '../helpers/fixtures.js'

test('the client entry does not export the reference server', () => {
  assert.equal('startDataStorageServer' in client, false)
})

test('the server entry starts a server on PGlite in memory', async (t) => {
  const server = await startDataStorageServer({ logger: silentLogger })
  t.after(() => server.close())
  assert.equal(server.engine, 'pglite')
  assert.equal((await fetch(`${server.url}/health`)).status, 200)
})

for (const [database, packageName] of [['memory://', '@electric-sql/pglite'], ['postgres://nobody@127.0.0.1:1/none', 'pg']] as const) {
  test(`without ${packageName} installed, startDataStorageServer({ database: '${database}' }) fails with MissingPeerError naming it`, () => {
    const preload = fileURLToPath(new URL('../fixtures/without-server-drivers.mjs', import.meta.url))
    const entry = new URL('../../lib/server/index.ts', import.meta.url).href
    const script = `const { startDataStorageServer } = await import(${JSON.stringify(entry)});
try { await startDataStorageServer({ database: ${JSON.stringify(database)} }); console.log('started') } catch (err) { console.log(err.name + ' ' + err.code + ' ' + err.packageName + ': ' + err.message) }`
    const result = spawnSync(process.execPath, ['--import', 'tsx', '--import', preload, '--input-type=module', '-e', script], { encoding: 'utf8' })
    const escaped = packageName.replace(/[.]/g, '\\.')
    assert.match(result.stdout, new RegExp(`^MissingPeerError AUDIT_ERR_MISSING_PEER ${escaped}: startDataStorageServer needs ${escaped}: install it with \`npm install ${escaped}\``), result.stderr)
  })
}
