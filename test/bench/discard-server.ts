/**
 * A loopback server that reads each request and answers 201, run in a child
 * process so that it has the other core. Prints its port on stdout. It keeps
 * only header bytes; the body is scanned for the events it holds (the
 * objects of its JSON array) and dropped. Over IPC, a message `{ id }` is
 * answered with `{ id, events, requests, malformed }`: the totals since the
 * start. A body is counted before its response is written, so a client that
 * has its answers sees its events in the totals.
 */
import { createServer } from 'node:net'
import { EventCounter } from './event-counter.js'

const CREATED = Buffer.from('HTTP/1.1 201 Created\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: keep-alive\r\n\r\n{}')
const BAD = Buffer.from('HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: keep-alive\r\n\r\n{}')
const NO_LENGTH = Buffer.from('HTTP/1.1 411 Length Required\r\ncontent-length: 0\r\nconnection: close\r\n\r\n')

/** What the server has taken in since it started. */
export interface Received {
  /** Top-level objects in the JSON array bodies of the well-formed requests. */
  readonly events: number
  readonly requests: number
  /** Requests whose body was not one JSON array (answered 400), or that had no content-length or were compressed (411, 400). */
  readonly malformed: number
}

const received = { events: 0, requests: 0, malformed: 0 }

const server = createServer((socket) => {
  let head = '' // header bytes seen so far, while looking for the blank line
  let bodyLeft = -1 // body bytes still to come; -1 while in the headers
  let counter: EventCounter | undefined // the body's count; undefined when the body cannot be scanned
  socket.on('data', (chunk: Buffer) => {
    let offset = 0
    while (offset < chunk.length) {
      if (bodyLeft < 0) {
        const text = head + chunk.toString('latin1', offset, Math.min(chunk.length, offset + 8192))
        const end = text.indexOf('\r\n\r\n')
        if (end < 0) {
          head = text
          offset = Math.min(chunk.length, offset + 8192)
          continue
        }
        const headers = text.slice(0, end)
        const length = /\r\ncontent-length:\s*(\d+)/i.exec(headers)
        offset += end + 4 - head.length
        head = ''
        received.requests++
        if (length === null) {
          // Chunked or unknown framing: this server reads content-length bodies only.
          received.malformed++
          socket.end(NO_LENGTH)
          return
        }
        bodyLeft = Number(length[1])
        counter = /\r\ncontent-encoding:\s*(?!identity)\S/i.test(headers) ? undefined : new EventCounter()
      }
      const take = Math.min(bodyLeft, chunk.length - offset)
      counter?.feed(chunk.subarray(offset, offset + take))
      offset += take
      bodyLeft -= take
      if (bodyLeft === 0) {
        bodyLeft = -1
        const events = counter?.end()
        if (events === undefined) received.malformed++
        else received.events += events
        socket.write(events === undefined ? BAD : CREATED)
      }
    }
  })
  socket.on('error', () => {})
})
server.listen(0, '127.0.0.1', () => {
  const address = server.address()
  process.stdout.write(`${typeof address === 'object' && address !== null ? address.port : 0}\n`)
})
process.on('message', (message: { id: number }) => {
  process.send?.({ id: message.id, ...received })
})
process.on('disconnect', () => process.exit(0))
