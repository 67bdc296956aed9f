/**
 * A registry at a distance, for measuring round trips: `node dist/scripts/latency-proxy.js
 * LISTEN_PORT UPSTREAM_PORT ONE_WAY_MS` forwards 127.0.0.1:LISTEN_PORT to 127.0.0.1:UPSTREAM_PORT
 * and holds every chunk ONE_WAY_MS in each direction, in order — a WAN link's latency without
 * its bandwidth limit. Loads through it show what a re-run costs against a remote registry.
 */
import { connect, createServer, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

const [listenPort, upstreamPort, oneWayMs] = process.argv.slice(2).map(Number);
if (!listenPort || !upstreamPort || oneWayMs === undefined || !(oneWayMs >= 0)) {
  process.stderr.write('usage: latency-proxy LISTEN_PORT UPSTREAM_PORT ONE_WAY_MS\n');
  process.exit(2);
}

/** Forwards `from` to `to`, each chunk `oneWayMs` after it arrived. */
function delayed(from: Socket, to: Socket): void {
  let queue = Promise.resolve();
  from.on('data', (chunk: Buffer) => {
    const due = Date.now() + oneWayMs!;
    queue = queue.then(async () => {
      await sleep(Math.max(0, due - Date.now()));
      to.write(chunk);
    });
  });
  from.on('end', () => void queue.then(() => to.end()));
  from.on('error', () => to.destroy());
}

createServer((client) => {
  const upstream = connect(upstreamPort!, '127.0.0.1');
  delayed(client, upstream);
  delayed(upstream, client);
}).listen(listenPort, '127.0.0.1');
