import { createServer } from 'node:http';

/**
 * The reference HTTP server: plain node:http, one process, reads and parses the JSON body and answers
 * 201 with a small JSON document (the shape of an append response). What any Node service pays
 * before doing its own work.
 */
let position = 0;
const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    let n = 0;
    if (chunks.length) {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { events?: unknown[] };
      n = Array.isArray(body.events) ? body.events.length : 1;
    }
    position += n;
    const out = JSON.stringify({ written: n, position: String(position) });
    res.writeHead(req.method === 'POST' ? 201 : 200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(out) });
    res.end(out);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(Number(process.env['PORT'] ?? 0), '127.0.0.1', () => console.log('plain server listening'));
process.once('SIGTERM', () => server.close(() => process.exit(0)));
