"""
A stream queue through pika: declare (x-queue-type stream, durable), publish with confirms, read
from `first` with a prefetch and acks (offsets from the x-stream-offset header), resume a consumer
group by name, and the 406 for a consume without prefetch. Prints one JSON object per step;
test/integration/pika.test.ts asserts on them. Usage: stream.py <port>
"""
import json
import sys

import pika

port = int(sys.argv[1])
Q = "pika-stream"


def out(step, **kw):
    print(json.dumps({"step": step, **kw}, default=str), flush=True)


params = pika.ConnectionParameters(
    host="127.0.0.1", port=port, credentials=pika.PlainCredentials("guest", "guest"), connection_attempts=1
)
conn = pika.BlockingConnection(params)
ch = conn.channel()
ch.confirm_delivery()
ok = ch.queue_declare(Q, durable=True, arguments={"x-queue-type": "stream"})
out("declare", queue=ok.method.queue)
for i in range(10):
    ch.basic_publish("", Q, f"s{i}".encode())
out("published", n=10)


def read(args, n, ack_below):
    c = conn.channel()
    c.basic_qos(prefetch_count=20)
    got = []
    for method, props, body in c.consume(Q, arguments=args, inactivity_timeout=2):
        if method is None:
            break
        off = props.headers["x-stream-offset"]
        got.append([off, body.decode()])
        if off < ack_below:
            c.basic_ack(method.delivery_tag)
        if len(got) == n:
            break
    c.cancel()
    # acks are on the wire before the close
    conn.process_data_events(time_limit=0.3)
    c.close()
    return got


out("first", got=read({"x-stream-offset": "first", "x-stream-consumer-name": "py"}, 10, 6))
out("resume", got=read({"x-stream-consumer-name": "py"}, 4, 100))
c = conn.channel()
try:
    c.basic_consume(Q, lambda *a: None)
    out("no_prefetch", ok=True)
except pika.exceptions.ChannelClosedByBroker as e:
    out("no_prefetch", code=e.reply_code, text=e.reply_text)
conn.close()
