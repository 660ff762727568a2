#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""bench/peers/py_bridge.py - the bridge job in Python, on Debian's
python3-paho-mqtt, in the shape of Home Assistant's own MQTT integration.

The job: subscribe in/+, parse each JSON payload, keep it as the state of
entity <k>, publish the state on out/<k>.

The shape, as in homeassistant/components/mqtt/client.py: one asyncio loop
owns everything; paho's socket is driven from that loop (add_reader ->
loop_read, add_writer -> loop_write while paho has output queued, loop_misc
once a second); the blocking connect runs in the executor; on_message
dispatches to the matching subscriptions' callbacks on the loop; the entity
parses its payload (value_json), writes its state to a state machine, which
fires state_changed to its listeners; a statestream-like listener publishes
the new state. No TCP_NODELAY: neither paho nor Home Assistant sets it.

usage: py_bridge.py -p PORT [-q QOS] [-i CLIENT_ID]
Prints READY when subscribed; on SIGTERM/SIGINT prints one STATS line.
"""
import argparse
import asyncio
import json
import resource
import signal
import sys
import time

import paho.mqtt
import paho.mqtt.client as mqtt


class State:
    """What Home Assistant's State keeps: the value and when it changed."""
    __slots__ = ("entity_id", "state", "last_updated")

    def __init__(self, entity_id, state, last_updated):
        self.entity_id = entity_id
        self.state = state
        self.last_updated = last_updated


class StateMachine:
    def __init__(self):
        self._states = {}
        self._listeners = []

    def listen(self, cb):
        self._listeners.append(cb)

    def async_set(self, entity_id, state):
        old = self._states.get(entity_id)
        if old is not None and old.state == state:
            return
        new = State(entity_id, state, time.monotonic())
        self._states[entity_id] = new
        for cb in self._listeners:
            cb(entity_id, old, new)


class Sensor:
    """An MQTT sensor whose value is the JSON object it receives."""
    __slots__ = ("entity_id", "states", "value")

    def __init__(self, entity_id, states):
        self.entity_id = entity_id
        self.states = states
        self.value = None

    def message_received(self, msg):
        try:
            self.value = json.loads(msg.payload)   # value_json
        except ValueError:
            return
        self.states.async_set(self.entity_id, self.value)


class Bridge:
    def __init__(self, loop, port, qos, client_id):
        self.loop = loop
        self.port = port
        self.qos = qos
        self.states = StateMachine()
        self.entities = {}
        self.forwarded = 0
        self.bad = 0
        self.ready = loop.create_future()
        self.misc = None
        if hasattr(mqtt, "CallbackAPIVersion"):          # paho-mqtt 2.x
            self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION1, client_id,
                                 clean_session=True, protocol=mqtt.MQTTv311)
        else:                                             # 1.x (Debian 12: 1.6.1)
            self.c = mqtt.Client(client_id, clean_session=True, protocol=mqtt.MQTTv311)
        self.c.max_queued_messages_set(0)
        self.c.max_inflight_messages_set(65535)
        self.c.on_connect = self.on_connect
        self.c.on_subscribe = self.on_subscribe
        self.c.on_message = self.on_message
        self.c.on_socket_open = self.on_socket_open
        self.c.on_socket_close = self.on_socket_close
        self.c.on_socket_register_write = self.on_socket_register_write
        self.c.on_socket_unregister_write = self.on_socket_unregister_write
        self.states.listen(self.publish_state)

    # --- paho's socket on the asyncio loop (Home Assistant's way) -----------
    def on_socket_open(self, client, userdata, sock):
        # called from the executor while connecting
        self.loop.call_soon_threadsafe(self._async_socket_open, sock)

    def _async_socket_open(self, sock):
        self.loop.add_reader(sock, self._reader)
        if self.misc is None:
            self.misc = self.loop.create_task(self._misc_loop())

    def on_socket_close(self, client, userdata, sock):
        self.loop.remove_reader(sock)

    def on_socket_register_write(self, client, userdata, sock):
        if self.loop.is_running() and not self._in_loop_thread():
            self.loop.call_soon_threadsafe(self.loop.add_writer, sock, self._writer)
        else:
            self.loop.add_writer(sock, self._writer)

    def on_socket_unregister_write(self, client, userdata, sock):
        self.loop.remove_writer(sock)

    def _in_loop_thread(self):
        try:
            return asyncio.get_running_loop() is self.loop
        except RuntimeError:
            return False

    def _reader(self):
        if self.c.loop_read() != 0:
            self.loop.stop()

    def _writer(self):
        if self.c.loop_write() != 0:
            self.loop.stop()

    async def _misc_loop(self):
        while self.c.loop_misc() == mqtt.MQTT_ERR_SUCCESS:
            await asyncio.sleep(1)

    # --- MQTT callbacks (on the loop) ----------------------------------------
    def on_connect(self, client, userdata, flags, rc):
        if rc != 0:
            print(f"py_bridge: connect refused rc={rc}", file=sys.stderr)
            self.loop.stop()
            return
        client.subscribe("in/+", self.qos)

    def on_subscribe(self, client, userdata, mid, granted):
        if not self.ready.done():
            self.ready.set_result(True)

    def on_message(self, client, userdata, msg):
        # the subscription's callback: one sensor per in/<k>
        topic = msg.topic
        ent = self.entities.get(topic)
        if ent is None:
            if not topic.startswith("in/"):
                self.bad += 1
                return
            ent = self.entities[topic] = Sensor("sensor." + topic[3:], self.states)
        ent.message_received(msg)

    # --- statestream-like listener: publish every new state -----------------
    def publish_state(self, entity_id, old, new):
        payload = json.dumps(new.state)
        info = self.c.publish("out/" + entity_id[7:], payload, self.qos, False)
        if info.rc == mqtt.MQTT_ERR_SUCCESS:
            self.forwarded += 1
        else:
            self.bad += 1

    async def start(self):
        await self.loop.run_in_executor(None, self.c.connect, "127.0.0.1", self.port, 60)
        await self.ready


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-p", type=int, required=True)
    ap.add_argument("-q", type=int, default=0)
    ap.add_argument("-i", default="py-bridge")
    a = ap.parse_args()
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    b = Bridge(loop, a.p, a.q, a.i)
    loop.add_signal_handler(signal.SIGTERM, loop.stop)
    loop.add_signal_handler(signal.SIGINT, loop.stop)

    async def go():
        await b.start()
        print("READY", flush=True)

    loop.create_task(go())
    loop.run_forever()
    ru = resource.getrusage(resource.RUSAGE_SELF)
    print(f"STATS variant=python forwarded={b.forwarded} bad={b.bad} utime={ru.ru_utime:.3f} "
          f"stime={ru.ru_stime:.3f} maxrss_kb={ru.ru_maxrss} paho={paho.mqtt.__version__}",
          flush=True)


if __name__ == "__main__":
    main()
