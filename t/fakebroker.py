#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""A fault-injecting fake MQTT 3.1.1 broker for t/test_mqtt_faults.c.

It sends what a real broker never would: once the client subscribes to "#",
PUBLISH packets whose topics are not valid topic names (a NUL, invalid
UTF-8, wildcards, an empty topic), then one good topic, "good/topic".
Otherwise it answers just enough to keep a client connected: CONNACK,
SUBACK, UNSUBACK, PINGRESP, PUBACK (and PUBREC/PUBCOMP for QoS 2).

It binds 127.0.0.1 on a port the kernel picks and prints that port as the
first line of standard output; every later line reports an event
("connect <id>", "subscribe <filter>", "sent <n> bad", "puback <mid>",
"publish <topic>", "closed"), so the test can show what happened. It serves
one client, exits when that client goes away, and in any case after
--lifetime seconds (20), so it never outlives a test that forgot it.
"""

import argparse
import select
import socket
import sys
import time

# Topic names a broker must never send (MQTT 3.1.1 sections 1.5.3 and 4.7).
BAD_TOPICS = [
    b"bad/nul\x00here",        # U+0000
    b"bad/\xff",               # not UTF-8 at all
    b"bad/\xc0\xaf",           # overlong encoding of '/'
    b"bad/\xed\xa0\x80",       # lone surrogate U+D800
    b"a/+",                    # wildcards are for filters only
    b"a/#",
    b"",                       # empty
]
GOOD_TOPIC = b"good/topic"


def say(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def remaining_length(n):
    out = bytearray()
    while True:
        byte = n % 128
        n //= 128
        if n:
            byte |= 0x80
        out.append(byte)
        if not n:
            return bytes(out)


def packet(first, body):
    return bytes([first]) + remaining_length(len(body)) + body


def utf8_field(data):
    return len(data).to_bytes(2, "big") + data


def publish(topic, payload, qos=0, mid=0):
    body = utf8_field(topic)
    if qos:
        body += mid.to_bytes(2, "big")
    return packet(0x30 | (qos << 1), body + payload)


class Conn:
    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.next_mid = 1

    def read_packet(self, deadline):
        """One packet as (first byte, body), or None when the peer closed."""
        while True:
            pkt = self.parse()
            if pkt is not None:
                return pkt
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([self.sock], [], [], left)
            if not ready:
                return None
            try:
                data = self.sock.recv(65536)
            except OSError:
                return None
            if not data:
                return None
            self.buf += data

    def parse(self):
        if len(self.buf) < 2:
            return None
        mult, length, i = 1, 0, 1
        while True:
            if i >= len(self.buf):
                return None
            byte = self.buf[i]
            length += (byte & 0x7F) * mult
            mult *= 128
            i += 1
            if not byte & 0x80:
                break
            if i > 4:
                raise ValueError("malformed remaining length")
        if len(self.buf) < i + length:
            return None
        first, body = self.buf[0], self.buf[i:i + length]
        self.buf = self.buf[i + length:]
        return first, body

    def send(self, data):
        self.sock.sendall(data)

    def mid(self):
        m = self.next_mid
        self.next_mid = m % 65535 + 1
        return m


def subscribe_filters(body):
    mid = int.from_bytes(body[0:2], "big")
    filters, i = [], 2
    while i + 2 <= len(body):
        n = int.from_bytes(body[i:i + 2], "big")
        topic = body[i + 2:i + 2 + n]
        qos = body[i + 2 + n] if i + 2 + n < len(body) else 0
        filters.append((topic, qos))
        i += 3 + n
    return mid, filters


def hostile_burst(conn):
    # Alternate QoS 0 and 1: a dropped QoS 1 message must still be acknowledged.
    for n, topic in enumerate(BAD_TOPICS):
        qos = n % 2
        conn.send(publish(topic, b"bad%d" % n, qos, conn.mid() if qos else 0))
    say("sent %d bad" % len(BAD_TOPICS))
    conn.send(publish(GOOD_TOPIC, b"good", 1, conn.mid()))
    say("sent good")


def serve(conn, deadline):
    while True:
        pkt = conn.read_packet(deadline)
        if pkt is None:
            return
        first, body = pkt
        kind = first >> 4
        if kind == 1:  # CONNECT
            n = int.from_bytes(body[0:2], "big")
            # protocol name, level, flags, keepalive, then the client id
            at = 2 + n + 4
            idlen = int.from_bytes(body[at:at + 2], "big")
            say("connect " + body[at + 2:at + 2 + idlen].decode("utf-8", "replace"))
            conn.send(bytes([0x20, 0x02, 0x00, 0x00]))
        elif kind == 8:  # SUBSCRIBE
            mid, filters = subscribe_filters(body)
            granted = bytes(min(q, 2) for _, q in filters)
            conn.send(packet(0x90, mid.to_bytes(2, "big") + granted))
            for topic, _ in filters:
                say("subscribe " + topic.decode("utf-8", "replace"))
            if any(topic == b"#" for topic, _ in filters):
                hostile_burst(conn)
        elif kind == 10:  # UNSUBSCRIBE
            conn.send(packet(0xB0, body[0:2]))
        elif kind == 12:  # PINGREQ
            conn.send(bytes([0xD0, 0x00]))
        elif kind == 3:  # PUBLISH from the client
            qos = (first >> 1) & 3
            n = int.from_bytes(body[0:2], "big")
            say("publish " + body[2:2 + n].decode("utf-8", "replace"))
            if qos == 1:
                conn.send(packet(0x40, body[2 + n:4 + n]))
            elif qos == 2:
                conn.send(packet(0x50, body[2 + n:4 + n]))
        elif kind == 6:  # PUBREL
            conn.send(packet(0x70, body[0:2]))
        elif kind == 4:  # PUBACK for one of ours
            say("puback %d" % int.from_bytes(body[0:2], "big"))
        elif kind == 14:  # DISCONNECT
            say("disconnect")
            return


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lifetime", type=float, default=20.0)
    args = ap.parse_args()
    deadline = time.monotonic() + args.lifetime
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)
    say(str(srv.getsockname()[1]))
    ready, _, _ = select.select([srv], [], [], max(0.0, deadline - time.monotonic()))
    if not ready:
        say("no client")
        return 1
    sock, _ = srv.accept()
    srv.close()
    try:
        serve(Conn(sock), deadline)
    except (OSError, ValueError) as e:
        say("error %s" % e)
    finally:
        sock.close()
        say("closed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
