/**
 * Writing a response never throws, whatever the body or the state of the
 * response: it is the last thing a failing handler does.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { request } from 'undici'
import { HttpProblem, sendJson, sendProblem } from '../../lib/server/problem.js'

// A real server whose handler runs `respond`; returns what the client got and whether respond threw.
async function serve (respond: (res: ServerResponse) => void): Promise<{ status: number | 'dropped', body: string, threw: unknown }> {
  let threw: unknown
  const server = createServer((_req, res) => {
    try { respond(res) } catch (err) { threw = err }
    if (!res.writableEnded && !res.destroyed) res.destroy()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  try {
    const res = await request(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`)
    return { status: res.statusCode, body: await res.body.text(), threw }
  } catch {
    return { status: 'dropped', body: '', threw }
  } finally {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  }
}

test('a body that cannot be serialized becomes a fixed 500 problem', async () => {
  const cycle: Record<string, unknown> = {}
  cycle.self = cycle
  for (const body of [cycle, { n: 10n }, { toJSON () { throw new Error('no') } }]) {
    const got = await serve((res) => sendJson(res, 200, body))
    assert.equal(got.threw, undefined)
    assert.equal(got.status, 500)
    assert.equal((JSON.parse(got.body) as { detail: string }).detail, 'the response could not be serialized')
  }
})

test('a second response after headers were sent does not throw', async () => {
  const got = await serve((res) => {
    sendJson(res, 201, { ok: true })
    sendProblem(res, new HttpProblem(500, 'Internal Server Error', 'late'))
  })
  assert.equal(got.threw, undefined)
  assert.equal(got.status, 201)
  assert.deepEqual(JSON.parse(got.body), { ok: true })
})

test('a header value Node refuses ends the connection instead of throwing', async () => {
  const got = await serve((res) => sendProblem(res, new HttpProblem(400, 'Bad Request', 'x', {}, { 'x-bad': 'line\nbreak' })))
  assert.equal(got.threw, undefined)
  assert.equal(got.status, 'dropped')
})

test('a problem carries type, title, status, detail and its extra fields', async () => {
  const got = await serve((res) => sendProblem(res, new HttpProblem(413, 'Payload Too Large', 'too many', { max_batch_items: 5 })))
  assert.equal(got.status, 413)
  assert.deepEqual(JSON.parse(got.body), { type: 'urn:audit-stream:problem:payload-too-large', title: 'Payload Too Large', status: 413, detail: 'too many', max_batch_items: 5 })
})
