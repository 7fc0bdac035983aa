/**
 * A port that a test keeps for its whole run, in front of a server that goes
 * down and comes back: a TCP proxy on 127.0.0.1 port 0 whose switch either
 * resets every connection (the server is down) or pipes it to a target port
 * (the server is up).
 *
 * A test that closes a server and listens on the same port again leaves the
 * port free meanwhile, and another process may take it; the gate never
 * releases its port until the test is over. A reset connection fails the
 * client the way a refused one does (an ECONNRESET or a closed socket before
 * any answer), so the client under test sees the outage as a transport
 * error.
 */
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net'

export interface TcpGate {
  /** `http://127.0.0.1:<port>`: the URL a client is given. */
  readonly url: string
  readonly port: number
  /** Connections reset while the gate was down. */
  readonly resets: number
  /** Connections piped to a target. */
  readonly piped: number
  /** Pipes every new connection to `127.0.0.1:target`. */
  up (target: number): void
  /** Resets every connection open through the gate, and every new one until `up()`. */
  down (): void
  /** Stops listening and ends every connection. */
  close (): Promise<void>
}

/**
 * Starts a gate, down unless a target is given.
 * @param target - the port to pipe to at once; down without it
 */
export async function startTcpGate (target?: number): Promise<TcpGate> {
  // Invariant: every socket of a connection through the gate, client side and target side, until it closes.
  const sockets = new Set<Socket>()
  const track = (s: Socket): void => { sockets.add(s); s.on('close', () => sockets.delete(s)) }
  const state = { target, resets: 0, piped: 0 }
  const server: Server = createServer((client) => {
    client.on('error', () => {})
    if (state.target === undefined) {
      state.resets++
      client.resetAndDestroy()
      return
    }
    state.piped++
    track(client)
    const upstream = connect(state.target, '127.0.0.1')
    track(upstream)
    upstream.on('error', () => client.resetAndDestroy())
    client.on('close', () => upstream.destroy())
    upstream.on('close', () => client.destroy())
    client.pipe(upstream).pipe(client)
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    get resets () { return state.resets },
    get piped () { return state.piped },
    up (to: number) { state.target = to },
    down () {
      state.target = undefined
      for (const s of sockets) s.resetAndDestroy()
    },
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy()
      server.close(() => resolve())
    })
  }
}
