// har_load.js FILE: load a HAR file the way a browser's HAR import reads it, and say
// what would stop it. Chromium DevTools (Network panel, Import HAR) parses the file with
// JSON.parse, turns startedDateTime into a Date (an invalid date refuses the file),
// casts every required number with Number() (NaN refuses it), expects request,
// response, response.content and timings to be objects and log.entries an array, and
// lays each entry's send, wait and receive end to end after startedDateTime.
//
// Prints one JSON line: {"entries": N, "problems": [...], "span_ms": last end - first
// start}. Exit 0 when there is no problem, 1 otherwise.
'use strict';
const fs = require('fs');

const problems = [];
function need(cond, what) {
  if (!cond) problems.push(what);
  return cond;
}
function isObject(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
function number(v, what) {
  need(v !== undefined && !Number.isNaN(Number(v)), `${what}: ${JSON.stringify(v)} is not a number`);
  return Number(v);
}

let doc;
try {
  doc = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
} catch (e) {
  console.log(JSON.stringify({entries: 0, problems: [`JSON.parse: ${e.message}`]}));
  process.exit(1);
}

const log = isObject(doc) ? doc.log : undefined;
let count = 0, first = Infinity, last = -Infinity;
if (need(isObject(log), 'log is not an object') &&
    need(Array.isArray(log.entries), 'log.entries is not an array')) {
  need(isObject(log.creator) && typeof log.creator.name === 'string', 'log.creator.name');
  if (log.pages !== undefined) need(Array.isArray(log.pages), 'log.pages is not an array');
  log.entries.forEach((e, i) => {
    const at = `entries[${i}]`;
    if (!need(isObject(e), `${at} is not an object`)) return;
    const started = new Date(e.startedDateTime);
    need(!Number.isNaN(started.getTime()), `${at}.startedDateTime: invalid date`);
    const time = number(e.time, `${at}.time`);
    for (const part of ['request', 'response', 'timings']) need(isObject(e[part]), `${at}.${part}`);
    if (!isObject(e.request) || !isObject(e.response) || !isObject(e.timings)) return;
    const rq = e.request, rs = e.response, t = e.timings;
    need(typeof rq.url === 'string' && rq.url.length > 0, `${at}.request.url`);
    try {
      new URL(rq.url);
    } catch (err) {
      problems.push(`${at}.request.url: ${JSON.stringify(rq.url)} is not a URL`);
    }
    number(rq.headersSize, `${at}.request.headersSize`);
    number(rq.bodySize, `${at}.request.bodySize`);
    number(rs.status, `${at}.response.status`);
    number(rs.headersSize, `${at}.response.headersSize`);
    number(rs.bodySize, `${at}.response.bodySize`);
    for (const [obj, name] of [[rq, 'request'], [rs, 'response']]) {
      if (obj.headers !== undefined) {
        need(Array.isArray(obj.headers) && obj.headers.every(h => isObject(h) &&
             typeof h.name === 'string' && typeof h.value === 'string'),
             `${at}.${name}.headers`);
      }
    }
    if (need(isObject(rs.content), `${at}.response.content`)) {
      number(rs.content.size, `${at}.response.content.size`);
      need(typeof rs.content.mimeType === 'string', `${at}.response.content.mimeType`);
    }
    let end = 0;
    for (const k of ['blocked', 'dns', 'connect', 'ssl']) {
      if (t[k] !== undefined) number(t[k], `${at}.timings.${k}`);
    }
    for (const k of ['send', 'wait', 'receive']) {
      const v = number(t[k], `${at}.timings.${k}`);
      need(v >= 0, `${at}.timings.${k} is negative`);
      end += v;
    }
    const start = started.getTime();
    first = Math.min(first, start);
    last = Math.max(last, start + Math.max(time, end));
    count++;
  });
}
console.log(JSON.stringify({entries: count, problems: problems.slice(0, 20),
                            span_ms: count ? last - first : 0}));
process.exit(problems.length ? 1 : 0);
