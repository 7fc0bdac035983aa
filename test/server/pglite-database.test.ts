/**
 * PGlite's in-memory files grow by doubling (growFilesByDoubling), with the
 * installed PGlite, whether written past their end or extended by ftruncate
 * (what fallocate does), and keep their contents.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { PGlite } from '@electric-sql/pglite'
import { growFilesByDoubling } from '../../lib/server/pglite-database.js'

interface FileNode { contents: Uint8Array, usedBytes: number }
interface Fs {
  open: (path: string, flags: string) => unknown
  write: (stream: unknown, data: Uint8Array, offset: number, length: number) => number
  close: (stream: unknown) => void
  readFile: (path: string) => Uint8Array
  lookupPath: (path: string) => { node: FileNode }
  truncate: (path: string, length: number) => void
}

test('an in-memory file written 8 KiB at a time grows by doubling and keeps every byte', async (t) => {
  const db = new PGlite()
  t.after(() => db.close())
  await db.waitReady
  assert.equal(growFilesByDoubling(db), true, 'the installed PGlite has the MEMFS functions it replaces')
  const fs = (db.Module as unknown as { FS: Fs }).FS
  const page = new Uint8Array(8192)
  const stream = fs.open('/tmp/growth-test', 'w')
  const pages = 300 // 2.4 MB, past MEMFS's 1 MiB where it would grow by an eighth
  for (let i = 0; i < pages; i++) {
    page.fill(i % 251)
    fs.write(stream, page, 0, page.length)
  }
  fs.close(stream)
  const node = fs.lookupPath('/tmp/growth-test').node
  assert.equal(node.usedBytes, pages * page.length)
  // Doubled from the first page: the smallest 8 KiB times a power of two that holds the data.
  const capacity = node.contents.length
  assert.ok(capacity >= node.usedBytes && capacity < 2 * node.usedBytes, `capacity ${capacity} for ${node.usedBytes} bytes`)
  assert.equal(Math.log2(capacity / page.length) % 1, 0, `capacity ${capacity} is 8 KiB times a power of two`)
  const data = fs.readFile('/tmp/growth-test')
  for (let i = 0; i < pages; i++) assert.equal(data[i * page.length + 100], i % 251)
})

test('an in-memory file extended by ftruncate grows by doubling, reads as zeros past its old end, and still shrinks', async (t) => {
  const db = new PGlite()
  t.after(() => db.close())
  await db.waitReady
  assert.equal(growFilesByDoubling(db), true)
  const fs = (db.Module as unknown as { FS: Fs }).FS
  const stream = fs.open('/tmp/extend-test', 'w')
  fs.write(stream, new Uint8Array(8192).fill(7), 0, 8192)
  fs.close(stream)
  const step = 64 * 8192 // as PostgreSQL extends a table for COPY
  let node = fs.lookupPath('/tmp/extend-test').node
  let copies = 0
  for (let size = 8192 + step; size <= 16 * 2 ** 20; size += step) {
    const before = node.contents
    fs.truncate('/tmp/extend-test', size)
    node = fs.lookupPath('/tmp/extend-test').node
    if (node.contents !== before) copies++
  }
  const size = node.usedBytes
  // 32 extensions to 16 MiB: a copy each at the exact size, a handful when doubling.
  assert.ok(copies <= 7, `${copies} copies for 32 extensions`)
  assert.ok(node.contents.length >= size && node.contents.length < 2 * size, `capacity ${node.contents.length} for ${size} bytes`)
  const data = fs.readFile('/tmp/extend-test')
  assert.equal(data.length, size)
  assert.ok(data.subarray(0, 8192).every((b) => b === 7) && data.subarray(8192).every((b) => b === 0))
  fs.truncate('/tmp/extend-test', 100)
  assert.deepEqual([...fs.readFile('/tmp/extend-test')], Array.from({ length: 100 }, () => 7))
})

test('PostgreSQL in memory stores and reads rows with the doubling files', async (t) => {
  const db = new PGlite()
  t.after(() => db.close())
  await db.waitReady
  growFilesByDoubling(db)
  await db.query('CREATE TABLE t (n integer, s text)')
  await db.query("INSERT INTO t SELECT n, repeat('x', 500) FROM generate_series(1, 20000) AS n")
  const { rows } = await db.query<{ count: number, total: number }>('SELECT count(*)::int AS count, sum(n)::int AS total FROM t')
  assert.deepEqual(rows[0], { count: 20000, total: 20000 * 20001 / 2 })
})
