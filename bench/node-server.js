#!/usr/bin/env node
// node-server.js HOST PORT: node's own http server for bench/make-capture.sh, in its
// stock behaviour: node answers `100 Continue` by itself and `417` to any other
// expectation. GET ?n=N answers N random bytes; any other method reads the body and
// answers 201 with the byte count. Keep-alive as node does it by default.
'use strict';
const http = require('http');
const crypto = require('crypto');

const [host, port] = [process.argv[2], Number(process.argv[3])];
const srv = http.createServer((req, res) => {
  const m = /[?&]n=(\d+)/.exec(req.url);
  let n = 0;
  req.on('data', (d) => { n += d.length; });
  req.on('end', () => {
    const body = req.method === 'GET'
      ? crypto.randomBytes(m ? Number(m[1]) : 512)
      : Buffer.from(`received ${n} bytes\n`);
    res.writeHead(req.method === 'GET' ? 200 : 201,
      { 'Content-Type': 'application/octet-stream', 'Content-Length': body.length });
    res.end(body);
  });
});
srv.keepAliveTimeout = 30000;
srv.listen(port, host, () => console.error(`node-server: listening on ${host}:${port}`));
