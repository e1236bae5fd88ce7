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
  pause(): unknown
  resume(): unknown
  end(): unknown
  destroy(): unknown
  on(event: 'data', listener: (chunk: Buffer) => void): unknown
  on(event: 'drain' | 'close' | 'end', listener: () => void): unknown
  on(event: 'error', listener: (err: Error) => void): unknown
}
