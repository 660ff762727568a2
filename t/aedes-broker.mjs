// SPDX-License-Identifier: MIT
// An aedes broker for t/test_brokers (another broker users run, from npm):
// in-memory, on 127.0.0.1:PORT, a line on stdout per connection and
// subscription so that a failed test's log says what the broker saw.
// usage: node t/aedes-broker.mjs PORT   (AEDES: the module's aedes.js;
// default: the global npm root's)
import net from 'node:net'
import { execFileSync } from 'node:child_process'
import path from 'node:path'

const port = Number(process.argv[2])
const where = process.env.AEDES ||
  path.join(execFileSync('npm', ['root', '-g']).toString().trim(), 'aedes', 'aedes.js')
const { Aedes } = await import(where)
const broker = await Aedes.createBroker()
const log = (...a) => console.log(new Date().toISOString(), ...a)
broker.on('client', (c) => log('connected', c.id))
broker.on('clientDisconnect', (c) => log('disconnected', c.id))
broker.on('subscribe', (subs, c) => log('subscribed', c && c.id, subs.map((s) => `${s.topic} q${s.qos}`).join(' ')))
broker.on('clientError', (c, e) => log('client error', c && c.id, e.message))
const server = net.createServer(broker.handle)
server.listen(port, '127.0.0.1', () => log('listening on', port))
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => broker.close(() => server.close(() => process.exit(0))))
}
