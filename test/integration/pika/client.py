"""
pika (BlockingConnection) against a Warren broker: declare, publish with properties, basic_get,
consume + ack, publisher confirms, and a channel error. Prints one JSON object per step on stdout;
test/integration/pika.test.ts asserts on them. Usage: client.py <port>
"""
import json
import sys

import pika

port = int(sys.argv[1])


def out(step, **kw):
    print(json.dumps({"step": step, **kw}, default=str), flush=True)


params = pika.ConnectionParameters(
    host="127.0.0.1",
    port=port,
    credentials=pika.PlainCredentials("guest", "guest"),
    connection_attempts=1,
    blocked_connection_timeout=10,
)
conn = pika.BlockingConnection(params)
props = conn._impl.server_properties
out("connected", product=props.get("product").decode() if isinstance(props.get("product"), bytes) else props.get("product"),
    capabilities=sorted(k for k, v in props.get("capabilities", {}).items() if v is True))

ch = conn.channel()

# declare
ch.exchange_declare(exchange="pika.x", exchange_type="direct", durable=False, auto_delete=False)
ok = ch.queue_declare(queue="pika.q", durable=False, exclusive=True)
out("queue_declare", queue=ok.method.queue, message_count=ok.method.message_count, consumer_count=ok.method.consumer_count)
ch.queue_bind(queue="pika.q", exchange="pika.x", routing_key="rk")
gen = ch.queue_declare(queue="", exclusive=True)
out("server_named", queue=gen.method.queue)

# publish with properties, then basic_get
properties = pika.BasicProperties(
    content_type="application/json",
    content_encoding="utf-8",
    headers={"str": "v", "int": 42, "neg": -7, "bool": True, "nested": {"a": "b"}, "list": [1, "two"]},
    delivery_mode=2,
    priority=5,
    correlation_id="corr-1",
    reply_to="replies",
    expiration="60000",
    message_id="msg-1",
    timestamp=1700000000,
    type="greeting",
    user_id="guest",
    app_id="pika-test",
)
ch.basic_publish(exchange="pika.x", routing_key="rk", body=json.dumps({"hello": "pika"}).encode(), properties=properties)
method, p, body = ch.basic_get(queue="pika.q", auto_ack=False)
out(
    "basic_get",
    body=body.decode(),
    exchange=method.exchange,
    routing_key=method.routing_key,
    redelivered=method.redelivered,
    message_count=method.message_count,
    content_type=p.content_type,
    content_encoding=p.content_encoding,
    headers={k: (v.decode() if isinstance(v, bytes) else v) for k, v in (p.headers or {}).items()},
    delivery_mode=p.delivery_mode,
    priority=p.priority,
    correlation_id=p.correlation_id,
    reply_to=p.reply_to,
    expiration=p.expiration,
    message_id=p.message_id,
    timestamp=p.timestamp,
    type=p.type,
    user_id=p.user_id,
    app_id=p.app_id,
)
ch.basic_ack(method.delivery_tag)
method, p, body = ch.basic_get(queue="pika.q", auto_ack=True)
out("basic_get_empty", empty=method is None)

# consume + ack
for i in range(20):
    ch.basic_publish(exchange="", routing_key="pika.q", body=f"m{i}".encode())
ch.basic_qos(prefetch_count=5)
got = []
for method, p, body in ch.consume("pika.q", auto_ack=False, inactivity_timeout=5):
    if method is None:
        break
    got.append(body.decode())
    ch.basic_ack(method.delivery_tag)
    if len(got) == 20:
        break
ch.cancel()
out("consume", bodies=got)
ok = ch.queue_declare(queue="pika.q", passive=True)
out("after_consume", message_count=ok.method.message_count, consumer_count=ok.method.consumer_count)

# nack with requeue, then reject without
ch.basic_publish(exchange="", routing_key="pika.q", body=b"again")
method, p, body = ch.basic_get(queue="pika.q")
ch.basic_nack(method.delivery_tag, requeue=True)
method, p, body = ch.basic_get(queue="pika.q")
out("redelivery", body=body.decode(), redelivered=method.redelivered)
ch.basic_reject(method.delivery_tag, requeue=False)

# publisher confirms
ch.confirm_delivery()
confirmed = 0
for i in range(50):
    ch.basic_publish(exchange="pika.x", routing_key="rk", body=f"c{i}".encode())
    confirmed += 1
unroutable = None
try:
    ch.basic_publish(exchange="pika.x", routing_key="nowhere", body=b"lost", mandatory=True)
except pika.exceptions.UnroutableError as e:
    unroutable = [m.method.reply_code for m in e.messages]
out("confirms", confirmed=confirmed, unroutable=unroutable)
ok = ch.queue_declare(queue="pika.q", passive=True)
out("after_confirms", message_count=ok.method.message_count)
ch.queue_purge("pika.q")

# a channel error: passive declare of a missing queue closes the channel with 404
ch2 = conn.channel()
try:
    ch2.queue_declare(queue="pika.does-not-exist", passive=True)
    out("channel_error", code=None)
except pika.exceptions.ChannelClosedByBroker as e:
    out("channel_error", code=e.reply_code, text=e.reply_text, channel_open=ch2.is_open)

# the connection and the first channel still work
ch.queue_delete("pika.q")
ch.exchange_delete("pika.x")
out("cleanup", ok=True)
conn.close()
out("closed", ok=conn.is_closed)
