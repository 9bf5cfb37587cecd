// A Bluesky network for the tests: the reference PDS (@atproto/pds, through @atproto/dev-env)
// with a local PLC directory, both on loopback. Prints {"pds": url, "plc": url} as one JSON line
// when ready, and stays until its standard input closes or it gets SIGTERM, then closes the
// network. Ports: PDS_PORT and PLC_PORT, else free ones; PDS_BLOB_UPLOAD_LIMIT, bytes. Everything
// listens on loopback only.
const net = require('node:net')

// The PDS and the PLC directory listen on a port alone, which means every interface: bind
// such a listen to loopback instead.
const listen = net.Server.prototype.listen
net.Server.prototype.listen = function (...args) {
  if (typeof args[0] === 'number' && typeof args[1] !== 'string') args.splice(1, 0, '127.0.0.1')
  return listen.apply(this, args)
}

const { TestNetworkNoAppView } = require('@atproto/dev-env')

// dev-env would take port 0 literally (an unknown port, while it reports another): pick a free
// port on loopback ourselves unless one is given.
const freePort = () =>
  new Promise((resolve, reject) => {
    const probe = net.createServer()
    probe.once('error', reject)
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address()
      probe.close(() => resolve(port))
    })
  })
const port = async (name) => (process.env[name] ? Number(process.env[name]) : await freePort())

;(async () => {
  const network = await TestNetworkNoAppView.create({
    // With the rate limits of a real PDS: createSession allows 30 sign-ins per account in 5 minutes.
    pds: {
      port: await port('PDS_PORT'),
      hostname: 'localhost',
      rateLimitsEnabled: true,
      // A smaller limit on an uploaded blob than the PDS's 5 MB, for a test that needs one refused.
      ...(process.env.PDS_BLOB_UPLOAD_LIMIT
        ? { blobUploadLimit: Number(process.env.PDS_BLOB_UPLOAD_LIMIT) }
        : {}),
    },
    plc: { port: await port('PLC_PORT') },
  })
  let closing = false
  const close = async () => {
    if (closing) return
    closing = true
    try {
      await network.close()
    } finally {
      process.exit(0)
    }
  }
  process.on('SIGTERM', close)
  process.on('SIGINT', close)
  process.stdin.on('end', close)
  process.stdin.on('close', close)
  process.stdin.resume()
  process.stdout.write(JSON.stringify({ pds: network.pds.url, plc: network.plc.url }) + '\n')
})().catch((err) => {
  console.error(err)
  process.exit(1)
})
