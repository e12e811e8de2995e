#!/usr/bin/env node
// A charge point driven by the npm `ocpp-rpc` RPCClient in strict mode, for ChargeDeck's
// end-to-end tests. Strict mode validates, with ajv and the official OCPP 1.6 JSON schemas,
// every CALLRESULT the CSMS sends back and every CALL the CSMS initiates, independently of our
// own msgspec codec (see tests/peers/README.md).
//
// Usage:
//   node tests/peers/ocpp_rpc_charger.js --endpoint ws://127.0.0.1:PORT/ocpp --identity CP_ID
//        [--password PW] [--ca CA.pem] [--cert CERT.pem --key KEY.pem]
//
// The connection URL is endpoint + "/" + percent-encoded identity (OCPP-J 1.6 §3.1.1); the
// subprotocol offered is "ocpp1.6"; with --password, HTTP Basic auth "identity:password"
// (Security Whitepaper ed. 3, profile 1/2); --ca/--cert/--key for wss:// (profiles 2/3).
//
// Commands, one JSON object per line on stdin (processed one after the other):
//   {"op":"call","action":"BootNotification","payload":{...}[,"ref":any]}
//   {"op":"close"[,"code":1000,"reason":"..."]}
// End of stdin is a close. A close first lets answers to CSMS calls in flight go out.
//
// Events, one JSON object per line on stdout:
//   {"event":"connected","protocol":"ocpp1.6"}
//   {"event":"result","action":A,"payload":P[,"ref":R]}
//   {"event":"callerror","action":A,"code":C,"message":M,"details":D,"local":bool[,"ref":R]}
//       local=true: refused here by strict validation (of our request or of the CSMS's
//       CALLRESULT); a strict_failure event precedes it. local=false: the CSMS sent CALLERROR.
//   {"event":"strict_failure","isCall":bool,"outbound":bool,"method":M,"error":"...","code":C}
//   {"event":"incoming_call","id":ID,"action":A,"payload":P}     every CSMS-initiated CALL
//   {"event":"bad_message","message":"...","frame":"..."}        a frame the client could not use
//   {"event":"closed","code":N,"reason":"..."}                     then the process exits
//   {"event":"error","message":"..."[,"action":A][,"status":HTTP][,"ref":R]}
//       a failed connect (status = HTTP status of a refused handshake, then exit code 1),
//       a call time-out, or a bad command line.
//
// CSMS-initiated Core calls get plausible schema-valid answers (below); every other action,
// known to 1.6 or not, is answered with CALLERROR NotImplemented. Known 1.6 actions are
// schema-checked first, so a malformed command from the CSMS shows up as a strict_failure.
'use strict';

const fs = require('node:fs');
const readline = require('node:readline');
const { parseArgs } = require('node:util');
const { RPCClient, createRPCError } = require('ocpp-rpc');
const OCPP16_SCHEMAS = require('ocpp-rpc/lib/schemas/ocpp1_6.json');

const CALL_TIMEOUT_MS = 10000; // the brief's number: short enough for tests, long for 2 vCPUs

function emit(event) {
  // stdout to a pipe is synchronous on Linux, so lines are never lost on exit.
  process.stdout.write(JSON.stringify(event) + '\n');
}

function exitAfterFlush(code) {
  process.stdout.write('', () => process.exit(code));
}

function parseCommandLine() {
  try {
    const { values } = parseArgs({
      options: {
        endpoint: { type: 'string' },
        identity: { type: 'string' },
        password: { type: 'string' },
        ca: { type: 'string' },
        cert: { type: 'string' },
        key: { type: 'string' },
      },
      strict: true,
    });
    if (!values.endpoint || !values.identity) {
      throw new Error('--endpoint and --identity are required');
    }
    return values;
  } catch (err) {
    emit({ event: 'error', message: `bad command line: ${err.message}` });
    process.exit(2);
  }
}

// The charger's configuration (1.6 §9.1 key names). readonly keys refuse ChangeConfiguration.
const configuration = new Map([
  ['HeartbeatInterval', { readonly: false, value: '300' }],
  ['ConnectionTimeOut', { readonly: false, value: '60' }],
  ['MeterValueSampleInterval', { readonly: false, value: '60' }],
  ['NumberOfConnectors', { readonly: true, value: '1' }],
  ['SupportedFeatureProfiles', { readonly: true, value: 'Core,RemoteTrigger' }],
]);

function getConfiguration({ params }) {
  const requested = params.key ?? [...configuration.keys()];
  const configurationKey = [];
  const unknownKey = [];
  for (const key of requested) {
    const entry = configuration.get(key);
    if (entry) {
      configurationKey.push({ key, readonly: entry.readonly, value: entry.value });
    } else {
      unknownKey.push(key);
    }
  }
  const answer = { configurationKey };
  if (unknownKey.length > 0) {
    answer.unknownKey = unknownKey;
  }
  return answer;
}

function changeConfiguration({ params }) {
  const entry = configuration.get(params.key);
  if (entry?.readonly) {
    return { status: 'Rejected' };
  }
  configuration.set(params.key, { readonly: false, value: params.value });
  return { status: 'Accepted' };
}

const CORE_ANSWERS = {
  ChangeAvailability: () => ({ status: 'Accepted' }),
  ChangeConfiguration: changeConfiguration,
  ClearCache: () => ({ status: 'Accepted' }),
  DataTransfer: () => ({ status: 'Accepted' }),
  GetConfiguration: getConfiguration,
  RemoteStartTransaction: () => ({ status: 'Accepted' }),
  RemoteStopTransaction: () => ({ status: 'Accepted' }),
  Reset: () => ({ status: 'Accepted' }),
  UnlockConnector: () => ({ status: 'Unlocked' }),
  TriggerMessage: () => ({ status: 'Accepted' }),
};

function notImplemented({ method }) {
  throw createRPCError('NotImplemented', `${method} is not implemented by this test charger`);
}

function buildClient(args) {
  const wsOpts = {};
  if (args.ca) wsOpts.ca = fs.readFileSync(args.ca);
  if (args.cert) wsOpts.cert = fs.readFileSync(args.cert);
  if (args.key) wsOpts.key = fs.readFileSync(args.key);

  const client = new RPCClient({
    endpoint: args.endpoint,
    identity: args.identity,
    password: args.password,
    protocols: ['ocpp1.6'],
    strictMode: true,
    reconnect: false,
    callTimeoutMs: CALL_TIMEOUT_MS,
    wsOpts,
  });

  // Every 1.6 request schema gets a handler so strict mode checks the CSMS's CALL before the
  // handler runs; the library answers a CALL with no handler NotImplemented without checking.
  for (const schema of OCPP16_SCHEMAS) {
    const match = /^urn:(.+)\.req$/.exec(schema.$id);
    if (match) {
      client.handle(match[1], CORE_ANSWERS[match[1]] ?? notImplemented);
    }
  }
  return client;
}

function describeCallError(err, localErrors) {
  return {
    code: err.rpcErrorCode,
    message: err.message || err.rpcErrorMessage || '',
    details: err.details ?? {},
    local: localErrors.has(err),
  };
}

async function main() {
  const args = parseCommandLine();
  const client = buildClient(args);
  const localErrors = new WeakSet();
  let closing = false;

  client.on('strictValidationFailure', (failure) => {
    localErrors.add(failure.error);
    emit({
      event: 'strict_failure',
      isCall: failure.isCall,
      outbound: failure.outbound,
      method: failure.method,
      error: failure.error.message,
      code: failure.error.rpcErrorCode ?? null,
    });
  });
  client.on('call', ({ outbound, payload }) => {
    if (!outbound) {
      const [, id, action, params] = payload;
      emit({ event: 'incoming_call', id, action, payload: params });
    }
  });
  client.on('badMessage', ({ buffer, error }) => {
    emit({ event: 'bad_message', message: error.message, frame: buffer.toString('utf8') });
  });

  // 'protocol' fires once the handshake succeeded and before any frame is read, so
  // "connected" always precedes the first incoming_call.
  client.once('protocol', (protocol) => emit({ event: 'connected', protocol: protocol || null }));
  try {
    await client.connect();
  } catch (err) {
    const event = { event: 'error', message: `connect failed: ${err.message}` };
    if (typeof err.code === 'number') event.status = err.code;
    emit(event);
    exitAfterFlush(1);
    return;
  }

  client.on('close', ({ code, reason }) => {
    emit({ event: 'closed', code, reason: String(reason ?? '') });
    exitAfterFlush(0);
  });

  async function runCommand(line) {
    if (line.trim() === '' || closing) return;
    let command;
    try {
      command = JSON.parse(line);
    } catch (err) {
      emit({ event: 'error', message: `command is not JSON: ${err.message}` });
      return;
    }
    const ref = command.ref === undefined ? {} : { ref: command.ref };
    if (command.op === 'call') {
      const action = command.action;
      try {
        const payload = await client.call(action, command.payload ?? {});
        emit({ event: 'result', action, payload, ...ref });
      } catch (err) {
        if (err.rpcErrorCode) {
          emit({ event: 'callerror', action, ...describeCallError(err, localErrors), ...ref });
        } else {
          emit({ event: 'error', action, message: `${err.constructor.name}: ${err.message}`, ...ref });
        }
      }
    } else if (command.op === 'close') {
      closing = true;
      await client.close({
        code: command.code ?? 1000,
        reason: command.reason ?? '',
        awaitPending: true,
      });
    } else {
      emit({ event: 'error', message: `unknown op: ${JSON.stringify(command.op)}`, ...ref });
    }
  }

  // One command at a time, in order: a close waits for the call before it.
  let queue = Promise.resolve();
  const lines = readline.createInterface({ input: process.stdin, terminal: false });
  lines.on('line', (line) => {
    queue = queue.then(() => runCommand(line));
  });
  lines.on('close', () => {
    queue = queue.then(() => {
      if (!closing) {
        closing = true;
        return client.close({ code: 1000, reason: '', awaitPending: true });
      }
      return undefined;
    });
  });
}

main().catch((err) => {
  emit({ event: 'error', message: `unexpected: ${err.stack ?? err}` });
  exitAfterFlush(1);
});
