/**
 * A loopback server that reads each request and answers 201, run in a child
 * process so that it has the other core. Prints its port on stdout.
 */
import { createServer } from 'node:net'

const RESPONSE = Buffer.from('HTTP/1.1 201 Created\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: keep-alive\r\n\r\n{}')

// Minimal HTTP/1.1: find the header end, read content-length bytes, answer; keep-alive.
const server = createServer((socket) => {
  let buffered: Buffer = Buffer.alloc(0)
  let need = -1
  socket.on('data', (chunk: Buffer) => {
    buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk])
    for (;;) {
      if (need < 0) {
        const end = buffered.indexOf('\r\n\r\n')
        if (end < 0) return
        const head = buffered.subarray(0, end).toString('latin1')
        const match = /content-length:\s*(\d+)/i.exec(head)
        need = end + 4 + (match === null ? 0 : Number(match[1]))
      }
      if (buffered.length < need) return
      buffered = buffered.subarray(need)
      need = -1
      socket.write(RESPONSE)
    }
  })
  socket.on('error', () => {})
})
server.listen(0, '127.0.0.1', () => {
  const address = server.address()
  process.stdout.write(`${typeof address === 'object' && address !== null ? address.port : 0}\n`)
})
process.on('disconnect', () => process.exit(0))
