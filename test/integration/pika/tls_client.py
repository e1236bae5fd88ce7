"""
pika (BlockingConnection) over TLS against a Warren broker: PLAIN as guest with the server verified
against the test CA, then EXTERNAL with a client certificate (the user is the certificate's CN).
Prints one JSON object per step; test/integration/tls.test.ts asserts on them.
Usage: tls_client.py <port> <ca.pem> <client.pem> <client.key>
"""
import json
import ssl
import sys

import pika

port, ca, cert, key = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]


def out(step, **kw):
    print(json.dumps({"step": step, **kw}, default=str), flush=True)


def context(with_client_cert):
    ctx = ssl.create_default_context(cafile=ca)
    if with_client_cert:
        ctx.load_cert_chain(cert, key)
    return ctx


def params(credentials, with_client_cert):
    return pika.ConnectionParameters(
        host="127.0.0.1",
        port=port,
        credentials=credentials,
        ssl_options=pika.SSLOptions(context(with_client_cert), "localhost"),
        connection_attempts=1,
        blocked_connection_timeout=10,
    )


def round_trip(conn, queue):
    ch = conn.channel()
    ch.queue_declare(queue=queue, exclusive=True)
    ch.basic_publish(exchange="", routing_key=queue, body=b"over tls")
    for _ in range(100):
        method, _props, body = ch.basic_get(queue=queue, auto_ack=True)
        if method is not None:
            return body.decode()
        conn.sleep(0.02)
    return None


conn = pika.BlockingConnection(params(pika.PlainCredentials("guest", "guest"), False))
sock = conn._impl._transport._sock
out("plain", body=round_trip(conn, "pika.tls.plain"), version=sock.version())
conn.close()

conn = pika.BlockingConnection(params(pika.credentials.ExternalCredentials(), True))
out("external", body=round_trip(conn, "pika.tls.external"))
conn.close()

try:
    pika.BlockingConnection(params(pika.credentials.ExternalCredentials(), False))
    out("external_no_cert", error=None)
except Exception as e:  # the test checks which error it was
    out("external_no_cert", error=repr(e))
