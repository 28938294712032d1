#!/usr/bin/env node
// A local TimescaleDB server: PGlite (Postgres compiled to WASM) with the timescaledb
// extension, persisted in a data directory and served over TCP by pglite-socket.
//
//   node stack/pglite_server.mjs --data-dir DIR [--host 127.0.0.1] [--port 5432]
//   (or PGLITE_DATA_DIR / PGLITE_HOST / PGLITE_PORT)
//
// PGlite has a single backend session, so the socket server lets one client in at a
// time; others wait in a queue (up to QUEUE_TIMEOUT_MS) until it disconnects. Three
// fixes on top of pglite-socket 0.0.19, all made through the db object it is given:
//  * Session reset: the session is shared, so whatever a client leaves behind (an open
//    or aborted transaction, prepared statements, SET values, temp tables) would be
//    seen by the next client. Between clients: ROLLBACK, Sync, DISCARD ALL, and
//    search_path back to public (PGlite's own default).
//  * Message framing: pglite-socket hands each TCP chunk to PGlite as is; a protocol
//    message split across chunks (anything over ~64 KB) traps the WASM backend
//    ("RuntimeError: unreachable") and kills the database. Chunks are buffered here
//    and only whole messages are passed on.
//  * SSLRequest/GSSENCRequest get the standard "N" (no TLS) answer, so clients with
//    the default sslmode=prefer connect in plain text; CancelRequest is ignored.
// If the WASM backend traps anyway, the process exits (code 70): it cannot recover.
// "<data dir>.lock" holds our pid so a second server cannot open the same dir (exit 3).
//
// Prints "PGLITE_READY host=... port=... timescaledb=..." once it accepts connections.
// SIGTERM/SIGINT stop the listener, then close the database so the data dir stays sound.

import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { PGlite } from '@electric-sql/pglite'
import { timescaledb } from '@electric-sql/pglite/timescaledb'
import { PGLiteSocketServer } from '@electric-sql/pglite-socket'

const QUEUE_TIMEOUT_MS = 60_000
const CLOSE_TIMEOUT_MS = 20_000

const { values } = parseArgs({
  options: {
    'data-dir': { type: 'string', default: process.env.PGLITE_DATA_DIR },
    host: { type: 'string', default: process.env.PGLITE_HOST ?? '127.0.0.1' },
    port: { type: 'string', default: process.env.PGLITE_PORT ?? '5432' },
    debug: { type: 'boolean', default: false },
  },
})

const log = (...args) => console.log(new Date().toISOString(), ...args)

if (!values['data-dir']) {
  console.error('usage: pglite_server.mjs --data-dir DIR [--host HOST] [--port PORT]')
  process.exit(2)
}
const dataDir = resolve(values['data-dir'])
const host = values.host
const port = Number.parseInt(values.port, 10)
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`invalid port: ${values.port}`)
  process.exit(2)
}

// Never die on a stray rejection (pglite-socket leaves some unhandled when a client
// errors): a crash mid-write is what would damage the data dir.
process.on('unhandledRejection', (err) => log('unhandled rejection:', err))

/** A simple-protocol Query message for `sql`. */
function queryMessage(sql) {
  const body = Buffer.from(`${sql}\0`, 'utf8')
  const head = Buffer.alloc(5)
  head.write('Q', 0, 'latin1')
  head.writeInt32BE(body.length + 4, 1)
  return new Uint8Array(Buffer.concat([head, body]))
}

const SYNC = new Uint8Array([0x53, 0, 0, 0, 4])
// ROLLBACK ends an explicit block (or an implicit extended-protocol one); Sync leaves
// an "ignore till Sync" error state; the second ROLLBACK then ends an aborted block;
// DISCARD ALL drops prepared statements, portals, temp tables, SET values, LISTENs;
// PGlite boots with search_path=pg_catalog and then SETs it to public, so redo that.
const RESET_SESSION = [
  queryMessage('ROLLBACK'),
  SYNC,
  queryMessage('ROLLBACK'),
  queryMessage('DISCARD ALL'),
  queryMessage('SET search_path TO public'),
]

/** Exit when the WASM backend has trapped: that PGlite instance is unusable. */
function exitIfTrapped(err) {
  if (err instanceof WebAssembly.RuntimeError) {
    log('FATAL: the PGlite WASM backend trapped; exiting:', err)
    process.exit(70)
  }
}

/** Reset the shared backend session; the caller holds PGlite's exclusive lock. */
async function resetSession(db) {
  for (const message of RESET_SESSION) {
    try {
      await db.execProtocolRaw(message)
    } catch (err) {
      exitIfTrapped(err)
      log('session reset step failed:', err)
    }
  }
}

const SSL_REQUEST = 80877103
const GSSENC_REQUEST = 80877104
const CANCEL_REQUEST = 80877102
const NO_TLS = Buffer.from('N', 'latin1')

/**
 * Buffers one client's bytes into whole protocol messages. Until the startup message a
 * message is int32 length + body (SSLRequest, GSSENCRequest, CancelRequest, startup);
 * after it, type byte + int32 length + body.
 */
class Framer {
  constructor() {
    this.pending = Buffer.alloc(0)
    this.typed = false
  }

  /** Add a chunk; return [bytes to answer directly, whole messages for PGlite]. */
  push(chunk) {
    const data = Buffer.from(chunk)
    this.pending = this.pending.length ? Buffer.concat([this.pending, data]) : data
    const direct = []
    const whole = []
    let offset = 0
    for (;;) {
      const available = this.pending.length - offset
      const header = this.typed ? 1 : 0
      if (available < header + 4) break
      const length = this.pending.readInt32BE(offset + header)
      if (length < 4) throw new Error(`malformed protocol message (length ${length})`)
      if (available < header + length) break
      const message = this.pending.subarray(offset, offset + header + length)
      offset += header + length
      if (this.typed) {
        whole.push(message)
        continue
      }
      const code = length >= 8 ? message.readInt32BE(4) : 0
      if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
        direct.push(NO_TLS)
      } else if (code !== CANCEL_REQUEST) {
        whole.push(message) // the startup message
        this.typed = true
      }
    }
    this.pending = Buffer.from(this.pending.subarray(offset))
    return [Buffer.concat(direct), Buffer.concat(whole)]
  }
}

/**
 * The db handed to the socket server: the real PGlite, except that (1) the exclusive
 * lock a client connection holds is released only after the session has been reset,
 * and a connection that ends in an error does not surface as an unhandled rejection,
 * and (2) execProtocolRaw sees whole messages only (see Framer).
 */
function serverDb(db) {
  let framer = new Framer()

  const runExclusive = (fn) =>
    db.runExclusive(async () => {
      framer = new Framer() // a new client connection starts here
      try {
        return await fn()
      } catch (err) {
        log('client connection ended with an error:', err?.message ?? err)
        return undefined
      } finally {
        await resetSession(db)
      }
    })

  // No await before db.execProtocolRaw: chunks must reach PGlite in arrival order.
  const execProtocolRaw = async (chunk, options) => {
    const [direct, whole] = framer.push(chunk)
    let reply = new Uint8Array(0)
    if (whole.length > 0) {
      try {
        reply = await db.execProtocolRaw(new Uint8Array(whole), options)
      } catch (err) {
        exitIfTrapped(err)
        throw err
      }
    }
    return direct.length ? new Uint8Array(Buffer.concat([direct, reply])) : reply
  }

  return new Proxy(db, {
    get(target, prop) {
      if (prop === 'runExclusive') return runExclusive
      if (prop === 'execProtocolRaw') return execProtocolRaw
      const value = Reflect.get(target, prop, target)
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
}

/**
 * Two servers on one data dir corrupt it, and PGlite's postmaster.pid is no lock (its
 * pid is always -42). So hold "<data dir>.lock" with our pid while the dir is open.
 */
function lockDataDir() {
  const lockPath = `${dataDir}.lock`
  try {
    const holder = Number.parseInt(readFileSync(lockPath, 'utf8'), 10)
    const cmdline = readFileSync(`/proc/${holder}/cmdline`, 'utf8')
    if (holder !== process.pid && cmdline.includes('pglite_server')) {
      console.error(`data dir ${dataDir} is in use by pid ${holder} (${lockPath})`)
      process.exit(3)
    }
  } catch {
    // no lock file, or its process is gone: the dir is free
  }
  writeFileSync(lockPath, `${process.pid}\n`)
  process.on('exit', () => {
    try {
      if (readFileSync(lockPath, 'utf8').trim() === String(process.pid)) rmSync(lockPath)
    } catch {
      // already gone
    }
  })
}

let db = null
let server = null
let booted = false
let stopSignal = null

/** Stop the listener (ends the active client), then close the database. */
async function shutdown(signal) {
  log(`${signal}: stopping`)
  const timer = setTimeout(() => {
    log(`database did not close within ${CLOSE_TIMEOUT_MS} ms; exiting anyway`)
    process.exit(1)
  }, CLOSE_TIMEOUT_MS)
  try {
    await server?.stop()
    await db?.close()
    log('stopped cleanly')
    clearTimeout(timer)
    process.exit(0)
  } catch (err) {
    log('error while stopping:', err)
    process.exit(1)
  }
}

// A signal during startup (initdb takes seconds) is honoured once startup is done,
// so the data dir is never abandoned half-written.
function onSignal(signal) {
  if (stopSignal) return
  stopSignal = signal
  if (booted) shutdown(signal)
  else log(`${signal}: will stop once startup completes`)
}
process.on('SIGTERM', () => onSignal('SIGTERM'))
process.on('SIGINT', () => onSignal('SIGINT'))

mkdirSync(dataDir, { recursive: true })
lockDataDir()
log(`opening PGlite data dir ${dataDir}`)
db = await PGlite.create(dataDir, { extensions: { timescaledb } })
await db.exec('CREATE EXTENSION IF NOT EXISTS timescaledb')
const {
  rows: [{ extversion: tsVersion }],
} = await db.query("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'")
const {
  rows: [{ server_version: pgVersion }],
} = await db.query('SHOW server_version')
// Without shared_preload_libraries the TSL half of TimescaleDB (compression, policies,
// continuous aggregates) is only loaded in the session that ran CREATE EXTENSION; after
// a restart those fail with 'not supported under the current "timescale" license'.
// Loading both libraries explicitly fixes that; the backend keeps them until exit.
await db.exec(`LOAD '$libdir/timescaledb-${tsVersion}'`)
await db.exec(`LOAD '$libdir/timescaledb-tsl-${tsVersion}'`)
if (stopSignal) await shutdown(stopSignal) // asked to stop while starting

server = new PGLiteSocketServer({
  db: serverDb(db),
  host,
  port,
  connectionQueueTimeout: QUEUE_TIMEOUT_MS,
  debug: values.debug,
})
server.addEventListener('error', (event) => log('socket server error:', event.detail))
await server.start()
const actualPort = server.getServerConn().split(':').pop()
log(
  `PGLITE_READY host=${host} port=${actualPort} timescaledb=${tsVersion} postgres=${pgVersion}`,
)

booted = true
if (stopSignal) await shutdown(stopSignal)
