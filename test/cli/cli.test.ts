import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { readdir, rename, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { appendFileSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { AuditStore, DataStorageSink, FileDeadLetter } from '../../lib/index.js'
import { startDataStorageServer } from '../../lib/server/index.js'
import { startFaultServer, created, problem } from '../helpers/fault-server.js'
import { makeEvent, silentLogger } from '../helpers/fixtures.js'
import { runTs } from '../helpers/child.js'
import { ScriptedSink } from '../helpers/scripted-sink.js'
import { tempDir } from '../helpers/temp-dir.js'
import { waitFor } from '../helpers/wait-for.js'

const cli = fileURLToPath(new URL('../../lib/cli/index.ts', import.meta.url))

const run = (args: string[]) => runTs(cli, args, { env: { AUDIT_STREAM_URL: '' } })

test('audit-stream --help prints the usage and exits 0', async () => {
  const { code, stdout } = await run(['--help'])
  assert.equal(code, 0)
  assert.match(stdout, /Usage: audit-stream <command>/)
})

test('each command prints its own usage for --help', async () => {
  for (const [command, options] of [['send', ['--batch-size', '--dead-letter']], ['replay', ['--include-rejected', '--include-invalid']], ['serve', ['--port', '--database']], ['spool', ['inspect', '--json']]] as const) {
    const { code, stdout } = await run([command, '--help'])
    assert.equal(code, 0, command)
    assert.match(stdout, new RegExp(`^Usage: audit-stream ${command} `), command)
    for (const option of options) assert.ok(stdout.includes(option), `${command} --help names ${option}`)
    for (const other of ['send', 'replay', 'serve', 'spool'].filter((c) => c !== command)) assert.ok(!stdout.includes(`audit-stream ${other}`), `${command} --help is not the global text`)
  }
})

test('bad usage of a command prints that command\'s usage', async () => {
  const { code, stderr } = await run(['replay'])
  assert.equal(code, 2)
  assert.match(stderr, /audit-stream: replay takes exactly one <dir>\n\nUsage: audit-stream replay <dir>/)
  const bad = await run(['send', '-', '--url', 'http://x', '--nope'])
  assert.equal(bad.code, 2)
  assert.match(bad.stderr, /Usage: audit-stream send <file\|->/)
})

/** A dead-letter file as a process that has ended left it: named with a pid that is not alive. */
async function writeDeadLetterFile (dir: string, entries: Array<{ reason: 'exhausted' | 'rejected', seqs: number[] }>): Promise<void> {
  const dl = new FileDeadLetter({ dir })
  for (const [i, entry] of entries.entries()) {
    await dl.write({ reason: entry.reason, batchId: `b${i}`, events: entry.seqs.map((seq) => JSON.stringify(makeEvent(seq))), attempts: 3, at: new Date().toISOString() })
  }
  const gone = spawn(process.execPath, ['-e', ''])
  await new Promise((resolve) => gone.on('exit', resolve))
  await rename(dl.currentFile(), dl.currentFile().replace(`-${process.pid}.jsonl`, `-${gone.pid}.jsonl`))
}

test('bad usage exits 2 and says what is wrong', async () => {
  for (const args of [['bogus'], ['replay'], ['replay', '/tmp/x'], ['replay', '/tmp/x', '--url', 'http://x', '--nope']]) {
    const { code, stderr } = await run(args)
    assert.equal(code, 2, args.join(' '))
    assert.match(stderr, /audit-stream: /)
  }
})

test('audit-stream replay resends dead-lettered events and prints a summary line', async (t) => {
  const dir = tempDir(t, 'audit-cli-')
  await writeDeadLetterFile(dir, [{ reason: 'exhausted', seqs: [1, 2] }])
  const server = await startFaultServer(created)
  t.after(() => server.close())
  const { code, stdout } = await run(['replay', dir, '--url', server.url, '--token', 'cli-token'])
  assert.equal(code, 0)
  assert.match(stdout, /replay complete: 1 files, 1 entries, 2 events; 2 stored, 0 dead-lettered again, 0 lost, 0 corrupt lines; 0 entries kept \(0 rejected, 0 invalid\), 0 files left to their live writers/)
  assert.equal(server.requests[0]!.headers.authorization, 'Bearer cli-token')
  assert.equal(server.requests[0]!.headers['idempotency-key'], 'b0')
  assert.ok((await readdir(dir)).every((f) => f.endsWith('.replayed')))
})

test('audit-stream replay keeps rejected entries and exits 0; --include-rejected resends them', async (t) => {
  const dir = tempDir(t, 'audit-cli-')
  await writeDeadLetterFile(dir, [{ reason: 'rejected', seqs: [1] }, { reason: 'exhausted', seqs: [2] }])
  const server = await startFaultServer(created)
  t.after(() => server.close())
  const first = await run(['replay', dir, '--url', server.url])
  assert.equal(first.code, 0, first.stderr)
  assert.match(first.stdout, /1 stored, 0 dead-lettered again, 0 lost, 0 corrupt lines; 1 entries kept \(1 rejected, 0 invalid\)/)
  assert.equal(server.requests.length, 1)
  // The kept entry now sits in a file named with the replaying process's pid, which has ended.
  const second = await run(['replay', dir, '--url', server.url, '--include-rejected'])
  assert.equal(second.code, 0, second.stderr)
  assert.match(second.stdout, /1 stored, 0 dead-lettered again, 0 lost, 0 corrupt lines; 0 entries kept/)
  assert.equal(server.requests[1]!.headers['idempotency-key'], 'b0')
})

test('audit-stream serve starts a server that stores events and shuts down cleanly on SIGTERM', async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', cli, 'serve', '--port', '0', '--database', 'memory://', '--token', 't0ken'], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString()
      const match = /listening on (http:\/\/\S+) \(pglite\)/.exec(stdout)
      if (match !== null) resolve(match[1]!)
    })
    child.on('exit', (code) => reject(new Error(`serve exited with ${code}: ${stderr}`)))
  })
  const headers = { 'content-type': 'application/json', authorization: 'Bearer t0ken' }
  const posted = await fetch(`${url}/api/v1/audit/events/batch`, { method: 'POST', headers, body: JSON.stringify([makeEvent(1, 'cli-serve')]) })
  assert.equal(posted.status, 201)
  const found = await fetch(`${url}/api/v1/audit/events?correlation_id=cli-serve`, { headers })
  assert.equal(((await found.json()) as { pagination: { total: number } }).pagination.total, 1)
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve))
  child.kill('SIGTERM')
  assert.equal(await exited, 0)
  assert.match(stderr, /shutting down/)
  assert.ok(!stderr.includes('t0ken'), 'the token is not logged')
})

const runWithInput = (args: string[], input: string) => runTs(cli, args, { env: { AUDIT_STREAM_URL: '' }, input })

const jsonl = (from: number, to: number): string => Array.from({ length: to - from }, (_, i) => JSON.stringify(makeEvent(from + i, 'cli-send'))).join('\n') + '\n'

test('audit-stream send streams a JSONL file into DataStorage and exits 0 when all were stored', async (t) => {
  const dir = tempDir(t, 'audit-send-')
  const file = join(dir, 'events.jsonl')
  await writeFile(file, jsonl(0, 2500))
  const server = await startFaultServer(created)
  t.after(() => server.close())
  const { code, stdout } = await run(['send', file, '--url', server.url, '--batch-size', '500'])
  assert.equal(code, 0)
  assert.match(stdout, /send complete: 2500 events read, 2500 stored in 5 batches/)
  assert.equal(server.requests.flatMap((r) => r.body as unknown[]).length, 2500)
  assert.ok(server.requests.every((r) => (r.body as unknown[]).length <= 500))
})

test('audit-stream send reads stdin, dead-letters invalid and corrupt lines, and exits 1 saying so', async (t) => {
  const dir = tempDir(t, 'audit-send-')
  const server = await startFaultServer(created)
  t.after(() => server.close())
  const input = jsonl(0, 10) + '{"not":"an event"}\n' + '{this is not json\n' + jsonl(10, 20)
  const { code, stdout } = await runWithInput(['send', '-', '--url', server.url, '--dead-letter', dir], input)
  assert.equal(code, 1)
  assert.match(stdout, new RegExp(`send incomplete: 22 events read, 20 stored in 1 batches; 2 invalid, 2 dead-lettered to ${dir}`))
  assert.equal(server.requests.flatMap((r) => r.body as unknown[]).length, 20)
  const files = await readdir(dir)
  assert.equal(files.length, 1)
})

test('audit-stream send without a dead letter reports invalid events as lost', async (t) => {
  const server = await startFaultServer(created)
  t.after(() => server.close())
  const { code, stdout } = await runWithInput(['send', '-', '--url', server.url], jsonl(0, 3) + '[]\n')
  assert.equal(code, 1)
  assert.match(stdout, /3 stored in 1 batches; 1 invalid, 1 lost/)
})

test('audit-stream send with a missing file or no url is bad usage', async () => {
  assert.equal((await run(['send', '/nonexistent/events.jsonl', '--url', 'http://127.0.0.1:9'])).code, 2)
  assert.equal((await run(['send', '-'])).code, 2)
  assert.equal((await run(['send', '-', '--url', 'http://x', '--batch-size', 'ten'])).code, 2)
})

test('audit-stream spool inspect reports segments, pending events, the checkpoint and a damaged tail without changing the directory', async (t) => {
  const dir = tempDir(t, 'cli-spool-')
  // A store whose sink never answers, destroyed with seven events spooled and none settled.
  const store = new AuditStore({ sink: new ScriptedSink([], { fallback: 'never', delayMs: 0 }), logger: silentLogger, batchSize: 3, spool: { dir, segmentBytes: 1000 } })
  for (let i = 0; i < 7; i++) {
    store.record(makeEvent(i))
    await store.persisted()
  }
  store.destroy()
  await waitFor(() => !readdirSync(dir).includes('lock'), { what: 'the destroyed store to release the spool lock' })
  const segments = readdirSync(dir).filter((n) => n.startsWith('segment-')).sort()
  appendFileSync(join(dir, segments.at(-1)!), Buffer.from([9, 0, 0, 0, 1, 2]))
  const before = readdirSync(dir).sort().map((n) => [n, statSync(join(dir, n)).size])
  const json = await run(['spool', 'inspect', dir, '--json'])
  assert.equal(json.code, 0, json.stderr)
  const report = JSON.parse(json.stdout) as { checkpoint: number, events: number, pending: number, corruptBytes: number, segments: unknown[] }
  assert.equal(report.checkpoint, 0)
  assert.equal(report.events, 7)
  assert.equal(report.pending, 7)
  assert.equal(report.corruptBytes, 6)
  assert.equal(report.segments.length, segments.length)
  const text = await run(['spool', 'inspect', dir])
  assert.equal(text.code, 0, text.stderr)
  assert.match(text.stdout, new RegExp(`${segments.length} segments, 7 events, 7 pending, \\d+ batch cuts, 6 corrupt bytes`))
  assert.deepEqual(readdirSync(dir).sort().map((n) => [n, statSync(join(dir, n)).size]), before, 'the directory is unchanged')
  // The spool's floor is named floor in the text and in --json; --json keeps checkpoint, its file's name, for scripts.
  assert.equal((JSON.parse(json.stdout) as { floor: number }).floor, 0)
  assert.match(text.stdout, /^floor: 0$/m)
  writeFileSync(join(dir, 'checkpoint'), 'not a floor')
  const damaged = await run(['spool', 'inspect', dir])
  assert.equal(damaged.code, 0, damaged.stderr)
  assert.match(damaged.stdout, /^floor: damaged \(every spooled event is pending\)$/m)
  const damagedJson = JSON.parse((await run(['spool', 'inspect', dir, '--json'])).stdout) as { floor?: number, checkpoint?: number, pending: number }
  assert.deepEqual([damagedJson.floor, damagedJson.checkpoint, damagedJson.pending], [undefined, undefined, 7])
  const missing = await run(['spool', 'inspect', join(dir, 'nope')])
  assert.equal(missing.code, 1)
  assert.match(missing.stderr, /cannot inspect/)
  const bad = await run(['spool', 'bogus'])
  assert.equal(bad.code, 2)
  assert.match(bad.stderr, /unknown spool subcommand: bogus\n\nUsage: audit-stream spool inspect/)
})

// A store whose DataStorage is unreachable, destroyed with `count` events spooled in `dir` and none delivered.
async function deadSpool (dir: string, count: number, correlationId: string): Promise<void> {
  const dead = new AuditStore({ sink: new DataStorageSink({ url: 'http://127.0.0.1:9', logger: silentLogger }), logger: silentLogger, batchSize: 3, spool: { dir } })
  for (let i = 0; i < count; i++) dead.record(makeEvent(i, correlationId))
  await dead.persisted()
  dead.destroy()
  await waitFor(() => !readdirSync(dir).includes('lock'), { what: 'the destroyed store to release the spool lock' })
}

test('audit-stream spool drain stores every event a dead store left in its spool exactly once and leaves the directory empty', async (t) => {
  const dir = tempDir(t, 'cli-drain-')
  const server = await startDataStorageServer({ logger: silentLogger })
  t.after(() => server.close())
  await deadSpool(dir, 10, 'spool-drain')
  assert.ok(readdirSync(dir).some((n) => n.startsWith('segment-')), 'the dead store left segments')

  const usage = await run(['spool', 'drain', '--help'])
  assert.equal(usage.code, 0)
  assert.match(usage.stdout, /^Usage: audit-stream spool drain <dir> --url/)
  assert.equal((await run(['spool', 'drain', dir])).code, 2, 'no --url')
  assert.equal((await run(['spool', 'drain', '--url', server.url])).code, 2, 'no <dir>')
  const notDir = await run(['spool', 'drain', join(dir, 'nope'), '--url', server.url])
  assert.equal(notDir.code, 2)
  assert.match(notDir.stderr, /not a spool directory/)
  assert.ok(!readdirSync(dir).includes('nope'), 'a missing directory is not created')

  // A live process (this one) holds the lock: drain refuses and changes nothing. The lock is
  // written by hand: a real store here would replay the events itself and change the directory.
  writeFileSync(join(dir, 'lock'), `${process.pid} held-by-the-test\n`)
  const before = readdirSync(dir).sort()
  const locked = await run(['spool', 'drain', dir, '--url', server.url])
  assert.equal(locked.code, 2)
  assert.match(locked.stderr, new RegExp(`cannot drain .*locked by pid ${process.pid}`))
  assert.deepEqual(readdirSync(dir).sort(), before)
  await rm(join(dir, 'lock'))

  const drained = await run(['spool', 'drain', dir, '--url', server.url])
  assert.equal(drained.code, 0, drained.stderr)
  assert.match(drained.stdout, /^spool drain complete: 10 events recovered, 10 stored, 0 dead-lettered, 0 lost\n$/)
  assert.deepEqual(readdirSync(dir), [], 'the spool is empty and the lock released')
  const reply = await fetch(`${server.url}/api/v1/audit/events?correlation_id=spool-drain&limit=100`)
  assert.equal(reply.status, 200)
  const { data } = (await reply.json()) as { data: Array<{ event_id: string, event_data: { seq: number } }> }
  assert.deepEqual(data.map((e) => e.event_data.seq).sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
  assert.equal(new Set(data.map((e) => e.event_id)).size, 10)
})

test('audit-stream spool drain exits 1 and counts the events it could not store', async (t) => {
  const dir = tempDir(t, 'cli-drain-')
  await deadSpool(dir, 4, 'spool-drain')
  // A server that refuses every batch for good: each event is rejected and, without --dead-letter, lost.
  const server = await startFaultServer((_req, res) => problem(res, 400, 'bad request'))
  t.after(() => server.close())
  const drained = await run(['spool', 'drain', dir, '--url', server.url])
  assert.equal(drained.code, 1, drained.stderr)
  assert.match(drained.stdout, /^spool drain incomplete: 4 events recovered, 0 stored, 0 dead-lettered, 4 lost\n$/)
})

test('audit-stream spool drain of a damaged spool stores what it can, reports the damaged bytes and exits 1', async (t) => {
  const dir = tempDir(t, 'cli-drain-')
  const server = await startDataStorageServer({ logger: silentLogger })
  t.after(() => server.close())
  await deadSpool(dir, 5, 'spool-drain-damaged')
  const segment = readdirSync(dir).filter((n) => n.startsWith('segment-')).sort().at(-1)!
  appendFileSync(join(dir, segment), Buffer.from([9, 0, 0, 0, 1, 2]))
  const drained = await run(['spool', 'drain', dir, '--url', server.url])
  assert.equal(drained.code, 1, drained.stderr)
  assert.match(drained.stdout, /^spool drain incomplete: 5 events recovered, 5 stored, 0 dead-lettered, 0 lost, 6 damaged bytes discarded \(at least 0 events\)\n$/)
})
