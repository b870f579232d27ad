#!/usr/bin/env node
// node-peers.js: node's own http module as server or client for make-corpus.sh.
//
//   node node-peers.js server ROLE HOST PORT
//     default  stock behaviour: node answers 100 Continue by itself and 417 to any
//              other expectation (no 'checkExpectation' listener); handler reads body
//     reject417  'checkContinue' listener that answers 417 without reading the body
//     early401   'checkContinue' listener that answers 401 without reading the body
//     upgrade    an 'upgrade' listener, as WebSocket servers have, that switches at
//              once: node sends no 100 for an Upgrade request, whatever its Expect
//   node node-peers.js client continue HOST PORT PATH SIZE
//     POST with Expect: 100-continue; the body is written on the 'continue' event
'use strict';
const http = require('http');

function makeBody(n, seed) {
  const chars = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/';
  let out = '';
  let i = seed || 0;
  while (out.length < n) {
    let line = '';
    for (let k = 0; k < 63; k++) line += chars[(i + k) % 64];
    out += line + '\n';
    i += 7;
  }
  return Buffer.from(out.slice(0, n), 'latin1');
}

function log(...a) { console.error('node-peers:', ...a); }

function server(role, host, port) {
  const srv = http.createServer((req, res) => {
    let n = 0;
    req.on('data', (d) => { n += d.length; });
    req.on('end', () => {
      const msg = `received ${n} bytes\n`;
      res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': msg.length });
      res.end(msg);
    });
  });
  if (role === 'reject417') {
    srv.on('checkContinue', (req, res) => {
      log('checkContinue -> 417', req.method, req.url);
      res.writeHead(417, { 'Content-Type': 'text/plain', 'Content-Length': 26 });
      res.end('expectation not supported\n');
    });
  } else if (role === 'early401') {
    srv.on('checkContinue', (req, res) => {
      log('checkContinue -> 401', req.method, req.url);
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="upload"',
                           'Content-Type': 'text/plain', 'Content-Length': 13 });
      res.end('unauthorized\n');
    });
  } else if (role === 'upgrade') {
    srv.on('upgrade', (req, socket) => {
      log('upgrade -> 101', req.method, req.url);
      socket.end('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n' +
                 'Connection: Upgrade\r\n\r\n');
    });
  } else if (role !== 'default') {
    throw new Error('unknown server role ' + role);
  }
  srv.listen(Number(port), host, () => log('listening', role, host, port));
}

function clientContinue(host, port, path, size) {
  const body = makeBody(Number(size), 0);
  const req = http.request({
    host, port: Number(port), method: 'POST', path,
    headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': body.length,
               'Expect': '100-continue' },
  });
  req.on('continue', () => { log('got 100'); req.end(body); });
  req.on('response', (res) => {
    log('final', res.statusCode);
    res.resume();
    res.on('end', () => process.exit(0));
  });
  req.on('error', (e) => { log('error', e.message); process.exit(1); });
  req.flushHeaders();
}

const [kind, role, ...rest] = process.argv.slice(2);
if (kind === 'server') server(role, ...rest);
else if (kind === 'client' && role === 'continue') clientContinue(...rest);
else { log('usage: server ROLE HOST PORT | client continue HOST PORT PATH SIZE'); process.exit(2); }
