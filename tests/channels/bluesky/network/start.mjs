// Starts PLC + PDS + AppView from @atproto/dev-env, prints their URLs as one JSON line on stdout,
// and shuts them down when stdin closes or on SIGTERM/SIGINT.
// Environment: BSKY_PEER_DIR (where node_modules is), DB_POSTGRES_URL, DB_POSTGRES_SCHEMA, REDIS_HOST.
import { createRequire } from 'node:module'
import path from 'node:path'

const require = createRequire(path.join(process.env.BSKY_PEER_DIR, 'package.json'))
const { TestNetwork } = await import(require.resolve('@atproto/dev-env'))

const network = await TestNetwork.create({
  dbPostgresUrl: process.env.DB_POSTGRES_URL,
  dbPostgresSchema: process.env.DB_POSTGRES_SCHEMA,
})

let closing = false
async function close() {
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
process.stdin.resume()

const hostless = (url) => url.replace('//localhost:', '//127.0.0.1:')
process.stdout.write(
  JSON.stringify({ plc: hostless(network.plc.url), pds: hostless(network.pds.url), bsky: hostless(network.bsky.url) }) + '\n',
)
