#!/usr/bin/env node
// policy.js - an MTA Hooks handler with a small, real policy (Node.js, no packages).
//
//     node contrib/hooks/policy.js PORT [--reject-domain DOMAIN]... [--quarantine-word WORD]...
//
// The same policy as contrib/hooks/policy.py, one decision per request:
//   rcpt   the recipient being decided (the last of envelope.to) is in a refused domain:
//          reject it with 550 5.7.1. Other recipients are accepted.
//   data   the Subject contains a quarantine word (any case): quarantine the message, with
//          the word in the reason. Otherwise accept it and add the header "X-Policy: checked".
//   other  accept.
// Refused domains default to blocked.example, quarantine words to "[quarantine]"; giving
// either option replaces its default. A domain matches itself and its subdomains, in any
// case.
//
// It listens on 127.0.0.1:PORT (0 picks a free port) and prints one line,
// "policy.js: listening on http://127.0.0.1:PORT/", once it accepts requests. It answers
// POST on any path, keeps connections alive (the bridge reuses them), and answers 400 to a
// request it cannot read, which the bridge treats as a hook error.
'use strict';

const http = require('http');

const MAX_REQUEST = 64 * 1024 * 1024; // a bound on what one request may make us read

// usage - print how to call it and exit with status
function usage(status) {
  const out = status === 0 ? process.stdout : process.stderr;
  out.write('usage: node policy.js PORT [--reject-domain DOMAIN]... ' +
            '[--quarantine-word WORD]...\n');
  process.exit(status);
}

// parseArgs - the port and the two lists, from the command line
function parseArgs(argv) {
  const opts = { port: null, domains: [], words: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '-h' || arg === '--help') {
      usage(0);
    } else if (arg === '--reject-domain' || arg === '--quarantine-word') {
      if (i + 1 >= argv.length) usage(2);
      (arg === '--reject-domain' ? opts.domains : opts.words).push(argv[++i]);
    } else if (opts.port === null && /^[0-9]+$/.test(arg) && Number(arg) <= 65535) {
      opts.port = Number(arg);
    } else {
      usage(2);
    }
  }
  if (opts.port === null) usage(2);
  if (opts.domains.length === 0) opts.domains = ['blocked.example'];
  if (opts.words.length === 0) opts.words = ['[quarantine]'];
  opts.domains = opts.domains.map((d) => d.toLowerCase().replace(/^\.+|\.+$/g, ''));
  opts.words = opts.words.map((w) => w.toLowerCase());
  return opts;
}

// refused - whether an address is in a refused domain (or a subdomain of one)
function refused(opts, address) {
  const at = address.lastIndexOf('@');
  const domain = address.slice(at + 1).toLowerCase().replace(/^\.+|\.+$/g, '');
  return opts.domains.some((d) => domain === d || domain.endsWith('.' + d));
}

// decide - the answer object for one request
function decide(opts, req) {
  const stage = String((req.context || {}).stage || '').toLowerCase();
  if (stage === 'rcpt') {
    const to = (req.envelope || {}).to || [];
    const rcpt = to.length > 0 ? String(to[to.length - 1].address || '') : '';
    if (refused(opts, rcpt)) {
      return {
        action: 'reject',
        response: { status: 550, enhancedStatus: '5.7.1',
                    message: 'Recipient domain not accepted here' },
      };
    }
  } else if (stage === 'data') {
    const headers = (req.message || {}).headers || [];
    const subject = headers.filter((h) => String(h[0]).toLowerCase() === 'subject')
      .map((h) => String(h[1])).join(' ').toLowerCase();
    for (const word of opts.words) {
      if (subject.includes(word)) {
        return { action: 'quarantine', response: { message: `subject contains "${word}"` } };
      }
    }
    return {
      action: 'accept',
      modifications: [{ type: 'addHeader', name: 'X-Policy', value: 'checked' }],
    };
  }
  return { action: 'accept' };
}

// answer - send a JSON body with an exact length
function answer(res, code, obj) {
  const body = Buffer.from(JSON.stringify(obj));
  res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': body.length });
  res.end(body);
}

function main() {
  const opts = parseArgs(process.argv.slice(2));
  const server = http.createServer((req, res) => {
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > MAX_REQUEST) {
        res.shouldKeepAlive = false;
        answer(res, 400, { error: `a request is at most ${MAX_REQUEST} bytes` });
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (size > MAX_REQUEST) return;
      let obj;
      try {
        const parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
          throw new Error('the request is not a JSON object');
        }
        obj = decide(opts, parsed);
      } catch (e) {
        answer(res, 400, { error: `cannot read the request: ${e.message}` });
        return;
      }
      answer(res, 200, obj);
      process.stderr.write(`policy.js: ${req.method} ${req.url} ${obj.action}\n`);
    });
  });
  // The bridge keeps its connections open between messages: let them idle a while.
  server.keepAliveTimeout = 60 * 1000;
  server.listen(opts.port, '127.0.0.1', () => {
    process.stdout.write(`policy.js: listening on http://127.0.0.1:${server.address().port}/\n`);
  });
  server.on('error', (e) => {
    process.stderr.write(`policy.js: ${e.message}\n`);
    process.exit(1);
  });
  // Kept-alive connections would hold server.close() open: just leave.
  process.on('SIGTERM', () => process.exit(0));
  process.on('SIGINT', () => process.exit(0));
}

main();
