/**
 * The byte stream a Connection runs over. A net.Socket or tls.TLSSocket satisfies it as is; the
 * WebSocket server wraps a ws connection in an object with the same surface, so one Connection class
 * serves every transport (LavinMQ's WebSocketIO, aedes' handle(duplex)).
 */
import type { ByteSink } from './codec/frame-writer.js'

export interface AmqpSocket extends ByteSink {
  readonly remoteAddress?: string
  readonly remotePort?: number
  readonly localAddress?: string
  readonly localPort?: number
  /**
   * false when the peer's loopback address must not count for guest (a browser page from another
   * origin over WebSocket, transport/ws-origin.ts); absent means true
   */
  readonly loopbackTrusted?: boolean
  pause(): unknown
  resume(): unknown
  end(): unknown
  destroy(): unknown
  /**
   * Optional: the client has authenticated (tune-ok). A transport that caps what it buffers per
   * message before that (WebSocket) lifts the cap; TCP has no such buffer.
   */
  liftInputLimit?(): void
  on(event: 'data', listener: (chunk: Buffer) => void): unknown
  on(event: 'drain' | 'close' | 'end', listener: () => void): unknown
  on(event: 'error', listener: (err: Error) => void): unknown
}
