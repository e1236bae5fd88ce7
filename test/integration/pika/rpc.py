"""
pika's direct reply-to RPC recipe against a Warren broker: the requester consumes from
amq.rabbitmq.reply-to (auto_ack), publishes requests with reply_to set to it, and a responder on
another connection answers to the rewritten reply_to. Also a call nobody answers (timeout) and
RabbitMQ's channel errors. Prints one JSON object per step; test/integration/pika.test.ts asserts
on them. Usage: rpc.py <port>
"""
import json
import sys

import pika

port = int(sys.argv[1])
PSEUDO = "amq.rabbitmq.reply-to"


def out(step, **kw):
    print(json.dumps({"step": step, **kw}, default=str), flush=True)


params = pika.ConnectionParameters(
    host="127.0.0.1",
    port=port,
    credentials=pika.PlainCredentials("guest", "guest"),
    connection_attempts=1,
)
requester = pika.BlockingConnection(params)
responder = pika.BlockingConnection(params)
rch = requester.channel()
sch = responder.channel()
sch.queue_declare(queue="pika.rpc", auto_delete=True)

replies = []


def on_reply(ch, method, props, body):
    replies.append(
        dict(body=body.decode(), correlation_id=props.correlation_id, routing_key=method.routing_key, exchange=method.exchange)
    )


rch.basic_consume(queue=PSEUDO, on_message_callback=on_reply, auto_ack=True)
ok = rch.queue_declare(queue=PSEUDO, passive=True)
out("declare_pseudo", message_count=ok.method.message_count, consumer_count=ok.method.consumer_count)

seen_reply_to = []
for i in range(5):
    rch.basic_publish(
        exchange="",
        routing_key="pika.rpc",
        body=f"n{i}".encode(),
        properties=pika.BasicProperties(reply_to=PSEUDO, correlation_id=f"id{i}"),
    )
    # the responder: take the request, answer to its reply_to
    method, props, body = None, None, None
    for _ in range(100):
        method, props, body = sch.basic_get("pika.rpc", auto_ack=True)
        if method is not None:
            break
        responder.process_data_events(time_limit=0.02)
    seen_reply_to.append(props.reply_to)
    sch.basic_publish(
        exchange="",
        routing_key=props.reply_to,
        body=body.upper(),
        properties=pika.BasicProperties(correlation_id=props.correlation_id),
    )
    while len(replies) < i + 1:
        requester.process_data_events(time_limit=0.05)
out("rpc", replies=replies, reply_to=seen_reply_to)

# a request nobody answers: nothing arrives within the client's timeout
rch.basic_publish(exchange="", routing_key="pika.rpc", body=b"unanswered", properties=pika.BasicProperties(reply_to=PSEUDO))
requester.process_data_events(time_limit=0.3)
out("timeout", replies=len(replies))

# RabbitMQ's errors: a reply consumer that acknowledges, a request on a channel without one
ch2 = requester.channel()
try:
    ch2.basic_consume(queue=PSEUDO, on_message_callback=on_reply, auto_ack=False)
    out("ack_mode", code=None)
except pika.exceptions.ChannelClosedByBroker as e:
    out("ack_mode", code=e.reply_code, text=e.reply_text)
ch3 = requester.channel()
try:
    ch3.basic_publish(exchange="", routing_key="pika.rpc", body=b"x", properties=pika.BasicProperties(reply_to=PSEUDO))
    ch3.queue_declare(queue=PSEUDO, passive=True)
    out("no_consumer", code=None)
except pika.exceptions.ChannelClosedByBroker as e:
    out("no_consumer", code=e.reply_code, text=e.reply_text)

requester.close()
responder.close()
out("closed", ok=True)
