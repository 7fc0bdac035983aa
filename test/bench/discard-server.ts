/**
 * A loopback server that reads each request and answers 201, run in a child
 * process so that it has the other core. Prints its port on stdout. It keeps
 * only header bytes; the body is counted and dropped.
 */
import { createServer } from 'node:net'

const RESPONSE = Buffer.from('HTTP/1.1 201 Created\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: keep-alive\r\n\r\n{}')

const server = createServer((socket) => {
  let head = '' // header bytes seen so far, while looking for the blank line
  let bodyLeft = -1 // body bytes still to come; -1 while in the headers
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
        const match = /content-length:\s*(\d+)/i.exec(text.slice(0, end))
        offset += end + 4 - head.length
        head = ''
        bodyLeft = match === null ? 0 : Number(match[1])
      }
      const take = Math.min(bodyLeft, chunk.length - offset)
      offset += take
      bodyLeft -= take
      if (bodyLeft === 0) {
        bodyLeft = -1
        socket.write(RESPONSE)
      }
    }
  })
  socket.on('error', () => {})
})
server.listen(0, '127.0.0.1', () => {
  const address = server.address()
  process.stdout.write(`${typeof address === 'object' && address !== null ? address.port : 0}\n`)
})
process.on('disconnect', () => process.exit(0))
