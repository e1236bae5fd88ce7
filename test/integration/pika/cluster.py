"""
pika (BlockingConnection) on one cluster node using a queue that lives on another: publishes N
messages with publisher confirms, then consumes them with manual acks. Prints one JSON line with
what was confirmed and received. Usage: cluster.py <port> <queue> <n>
"""
import json
import sys

import pika

port, queue, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
conn = pika.BlockingConnection(pika.ConnectionParameters(host="127.0.0.1", port=port, credentials=pika.PlainCredentials("guest", "guest"), connection_attempts=1))
ch = conn.channel()
ok = ch.queue_declare(queue=queue, passive=True)
ch.confirm_delivery()
confirmed = 0
for i in range(n):
    ch.basic_publish(exchange="", routing_key=queue, body=str(i).encode(), properties=pika.BasicProperties(delivery_mode=2), mandatory=True)
    confirmed += 1
ch.basic_qos(prefetch_count=10)
got = []
for method, props, body in ch.consume(queue, inactivity_timeout=5):
    if method is None:
        break
    got.append(int(body))
    ch.basic_ack(method.delivery_tag)
    if len(got) == n:
        break
ch.cancel()
conn.close()
print(json.dumps({"passive_count": ok.method.message_count, "confirmed": confirmed, "got": got}), flush=True)
