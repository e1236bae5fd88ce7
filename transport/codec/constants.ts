/** Wire constants of AMQP 0-9-1 (§4.2.3, §4.2.6 and the class/method table). */

export const FRAME_METHOD = 1
export const FRAME_HEADER = 2
export const FRAME_BODY = 3
export const FRAME_HEARTBEAT = 8
/** 0-9-1 §4.2.3: every frame ends with this octet */
export const FRAME_END = 0xce
/** type(1) + channel(2) + size(4) */
export const FRAME_HEADER_SIZE = 7
/** header + frame-end */
export const FRAME_OVERHEAD = 8
/** 0-9-1 §4.2.3: frame_max can never be negotiated below this */
export const FRAME_MIN_SIZE = 4096

/** "AMQP" 0 0 9 1 */
export const PROTOCOL_HEADER = Buffer.from([0x41, 0x4d, 0x51, 0x50, 0, 0, 9, 1])

export const CLASS_CONNECTION = 10
export const CLASS_CHANNEL = 20
export const CLASS_EXCHANGE = 40
export const CLASS_QUEUE = 50
export const CLASS_BASIC = 60
export const CLASS_CONFIRM = 85
export const CLASS_TX = 90

/** (classId << 16) | methodId, the dispatch key. */
export const key = (classId: number, methodId: number): number => (classId << 16) | methodId

export const M = {
  CONNECTION_START: key(10, 10),
  CONNECTION_START_OK: key(10, 11),
  CONNECTION_SECURE: key(10, 20),
  CONNECTION_SECURE_OK: key(10, 21),
  CONNECTION_TUNE: key(10, 30),
  CONNECTION_TUNE_OK: key(10, 31),
  CONNECTION_OPEN: key(10, 40),
  CONNECTION_OPEN_OK: key(10, 41),
  CONNECTION_CLOSE: key(10, 50),
  CONNECTION_CLOSE_OK: key(10, 51),
  CONNECTION_BLOCKED: key(10, 60),
  CONNECTION_UNBLOCKED: key(10, 61),
  CONNECTION_UPDATE_SECRET: key(10, 70),
  CONNECTION_UPDATE_SECRET_OK: key(10, 71),
  CHANNEL_OPEN: key(20, 10),
  CHANNEL_OPEN_OK: key(20, 11),
  CHANNEL_FLOW: key(20, 20),
  CHANNEL_FLOW_OK: key(20, 21),
  CHANNEL_CLOSE: key(20, 40),
  CHANNEL_CLOSE_OK: key(20, 41),
  ACCESS_REQUEST: key(30, 10),
  ACCESS_REQUEST_OK: key(30, 11),
  EXCHANGE_DECLARE: key(40, 10),
  EXCHANGE_DECLARE_OK: key(40, 11),
  EXCHANGE_DELETE: key(40, 20),
  EXCHANGE_DELETE_OK: key(40, 21),
  EXCHANGE_BIND: key(40, 30),
  EXCHANGE_BIND_OK: key(40, 31),
  EXCHANGE_UNBIND: key(40, 40),
  EXCHANGE_UNBIND_OK: key(40, 51),
  QUEUE_DECLARE: key(50, 10),
  QUEUE_DECLARE_OK: key(50, 11),
  QUEUE_BIND: key(50, 20),
  QUEUE_BIND_OK: key(50, 21),
  QUEUE_PURGE: key(50, 30),
  QUEUE_PURGE_OK: key(50, 31),
  QUEUE_DELETE: key(50, 40),
  QUEUE_DELETE_OK: key(50, 41),
  QUEUE_UNBIND: key(50, 50),
  QUEUE_UNBIND_OK: key(50, 51),
  BASIC_QOS: key(60, 10),
  BASIC_QOS_OK: key(60, 11),
  BASIC_CONSUME: key(60, 20),
  BASIC_CONSUME_OK: key(60, 21),
  BASIC_CANCEL: key(60, 30),
  BASIC_CANCEL_OK: key(60, 31),
  BASIC_PUBLISH: key(60, 40),
  BASIC_RETURN: key(60, 50),
  BASIC_DELIVER: key(60, 60),
  BASIC_GET: key(60, 70),
  BASIC_GET_OK: key(60, 71),
  BASIC_GET_EMPTY: key(60, 72),
  BASIC_ACK: key(60, 80),
  BASIC_REJECT: key(60, 90),
  BASIC_RECOVER_ASYNC: key(60, 100),
  BASIC_RECOVER: key(60, 110),
  BASIC_RECOVER_OK: key(60, 111),
  BASIC_NACK: key(60, 120),
  CONFIRM_SELECT: key(85, 10),
  CONFIRM_SELECT_OK: key(85, 11),
  TX_SELECT: key(90, 10),
  TX_SELECT_OK: key(90, 11),
  TX_COMMIT: key(90, 20),
  TX_COMMIT_OK: key(90, 21),
  TX_ROLLBACK: key(90, 30),
  TX_ROLLBACK_OK: key(90, 31),
} as const
