// Starts the reference Bluesky PDS and a PLC directory for it, both on 127.0.0.1.
//
//   node pds.mjs --pds-port 2583 --plc-port 2582 --data /tmp/pds [--admin-password secret]
//
// Handles end in ".test"; accounts need no invite. Prints one JSON line
// ({"pds": url, "plc": url}) when both answer, and stops on SIGTERM/SIGINT.
import { parseArgs } from 'node:util'
import { mkdirSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { PDS } from '@atproto/pds'
import { Secp256k1Keypair } from '@atproto/crypto'
import { PlcServer, Database as PlcDatabase } from '@did-plc/server'

const HOST = '127.0.0.1'

const { values: args } = parseArgs({
  options: {
    'pds-port': { type: 'string' },
    'plc-port': { type: 'string' },
    data: { type: 'string' },
    'admin-password': { type: 'string', default: 'admin-pass' },
  },
})
if (!args['pds-port'] || !args['plc-port'] || !args.data) {
  console.error('usage: node pds.mjs --pds-port N --plc-port M --data DIR [--admin-password P]')
  process.exit(2)
}
const pdsPort = Number(args['pds-port'])
const plcPort = Number(args['plc-port'])

// Both servers call app.listen(port), which binds every interface: keep them on loopback.
const onLoopback = (app) => {
  const listen = app.listen.bind(app)
  app.listen = (port, ...rest) => listen(port, HOST, ...rest)
}

const plc = PlcServer.create({ db: PlcDatabase.mock(), port: plcPort })
onLoopback(plc.app)
await plc.start()

mkdirSync(args.data, { recursive: true })
const rotationKey = await Secp256k1Keypair.create({ exportable: true })
const pds = await PDS.fromEnv({
  devMode: true,
  hostname: 'localhost',
  port: pdsPort,
  dataDirectory: args.data,
  blobstoreDiskLocation: `${args.data}/blobs`,
  didPlcUrl: `http://${HOST}:${plcPort}`,
  serviceHandleDomains: ['.test'],
  inviteRequired: false,
  jwtSecret: randomBytes(16).toString('hex'),
  adminPassword: args['admin-password'],
  plcRotationKeyK256PrivateKeyHex: Buffer.from(await rotationKey.export()).toString('hex'),
})
onLoopback(pds.app)
await pds.start()

console.log(JSON.stringify({ pds: `http://${HOST}:${pdsPort}`, plc: `http://${HOST}:${plcPort}` }))

const stop = async () => {
  await pds.destroy().catch(() => {})
  await plc.destroy().catch(() => {})
  process.exit(0)
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
