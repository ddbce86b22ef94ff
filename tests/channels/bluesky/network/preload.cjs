// Loaded with `node --require` before dev-env: its servers call listen(port) without a host,
// which binds every interface. Tests must only ever be reachable on loopback.
'use strict'
const net = require('node:net')

const listen = net.Server.prototype.listen
net.Server.prototype.listen = function (...args) {
  if (typeof args[0] === 'object' && args[0] !== null && !Array.isArray(args[0])) {
    if (args[0].path === undefined) args[0] = { ...args[0], host: '127.0.0.1' }
  } else if (typeof args[0] === 'number' || (typeof args[0] === 'string' && /^\d+$/.test(args[0]))) {
    // listen(port[, host][, backlog][, callback]): drop a given host and put loopback in its place.
    const rest = args.slice(1)
    if (typeof rest[0] === 'string' || rest[0] === null || rest[0] === undefined) rest.shift()
    args = [args[0], '127.0.0.1', ...rest]
  }
  return listen.apply(this, args)
}
