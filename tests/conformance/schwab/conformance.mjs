// Conformance of brokerd's Schwab simulator with schwab-client-js, a public Node client of the
// Charles Schwab Trader API.
//
// Version: 1.1.2, the only release, which schwab-api.md cites (S1). The client has no base-URL
// option: every URL is hard-coded to https://api.schwabapi.com (dist/endpoints.js,
// dist/access.js) and sent with the global fetch. The client process therefore replaces
// globalThis.fetch with one that sends the same request to the simulator instead (and refuses
// any other host); TLS stays verified, against the simulator's CA given in
// NODE_EXTRA_CA_CERTS, for the address 127.0.0.1 that its certificate covers.
//
// One run against `broker-sim --schwab-port 0` with a fresh TLS directory, checking through the
// client's own methods:
//   the refresh grant (Basic app key:secret, form body) taken on the first call; account
//   numbers (string number, 64-character hash); the account with fields=positions (no
//   positions key while flat, CASH balances as numbers); a MARKET order (id from the Location
//   header) that fills, then the position it made in accountsDetails and accountsAll; a LIMIT
//   order from the client's equityBuyLimit helper (price sent as the string "100.00"), its id
//   from Location, read back with orderById (numeric orderId and price, a +0000 enteredTime),
//   listed by ordersByAccount with an ISO-8601 window, cancelled with orderDelete (200, empty
//   body) and read back CANCELED with remainingQuantity 0; the error texts the client takes
//   from the message body (a second cancel, an unknown order, an invalid account hash); and a
//   refresh grant refused for a bad refresh token. Then the simulator's statistics.
//
// Fails (exit code 1) with a message on the first failed check, and after 45 s in all.
//
// usage: node conformance.mjs [path/to/broker-sim]   (default ../../../build/bin/broker-sim)

import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { createInterface } from "node:readline";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const self = fileURLToPath(import.meta.url);
const TOTAL_TIMEOUT_MS = 45_000;
const STEP_TIMEOUT_MS = 8_000;
const SCHWAB = "https://api.schwabapi.com";
const APP_KEY = "conformance-app-key";
const APP_SECRET = "conformance-app-secret";
const REFRESH = "conformance-refresh-token";
const ACCOUNT = "12345678";
const SYMBOL = "AAPL";
const MARKET = "187.25";
const CLIENT_FLAG = "--client";

let passed = 0;
const children = new Set(); // processes to kill when the run fails

function fail(message) {
  for (const child of children) child.kill("SIGKILL");
  console.error(`FAIL: ${message}`);
  console.error(`schwab conformance: ${passed} checks passed, 1 failure`);
  process.exit(1);
}

function check(condition, message) {
  if (!condition) throw new Error(message);
  ++passed;
}

const isHash = (v) => typeof v === "string" && /^[0-9A-F]{64}$/.test(v);
const isNumber = (v) => typeof v === "number" && Number.isFinite(v);

if (process.argv[2] === CLIENT_FLAG) {
  await clientMain();
} else {
  await parentMain();
}

// == the parent: the simulator and the client process ============================================

function startSimulator(simPath, tlsDir) {
  const child = spawn(
    simPath,
    [
      "--schwab-port", "0",
      "--schwab-app-key", APP_KEY,
      "--schwab-app-secret", APP_SECRET,
      "--schwab-refresh-token", REFRESH,
      "--tls-dir", tlsDir,
      "--tick-ms", "50",
      "--prices", `${SYMBOL}=${MARKET}`,
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  children.add(child);
  child.on("exit", () => children.delete(child));
  const output = [];
  const lines = createInterface({ input: child.stdout });
  const exited = new Promise((r) => child.on("exit", (code, signal) => r({ code, signal })));
  const ready = new Promise((resolveReady, rejectReady) => {
    const timer = setTimeout(() => rejectReady(new Error("broker-sim printed no ready line")), 10_000);
    lines.on("line", (line) => {
      output.push(line);
      const m = /^broker-sim: schwab listening on ([^ ]+):(\d+) \(CA in (.+)\)$/.exec(line);
      if (m) {
        clearTimeout(timer);
        resolveReady({ port: Number(m[2]), ca: m[3] });
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      rejectReady(new Error(`broker-sim exited early (${code})`));
    });
  });
  return { child, ready, exited, output };
}

async function stopSimulator(sim) {
  if (sim.child.exitCode === null && sim.child.signalCode === null) {
    sim.child.kill("SIGTERM");
    const timer = setTimeout(() => sim.child.kill("SIGKILL"), 5_000);
    await sim.exited;
    clearTimeout(timer);
  }
  const { code } = await sim.exited;
  await new Promise((r) => setImmediate(r)); // let the last stdout lines arrive
  return code;
}

/// Runs this file as the client with the simulator's CA trusted; resolves with the number of
/// checks it passed. Its output is passed through.
function runClient(port, ca) {
  const env = { ...process.env, NODE_EXTRA_CA_CERTS: ca };
  delete env.NODE_TLS_REJECT_UNAUTHORIZED; // verification stays on whatever the caller set
  // The client prefers these variables to its constructor's arguments.
  for (const name of ["SCHWAB_APP_KEY", "SCHWAB_SECRET", "SCHWAB_REFRESH_TOKEN", "DEBUG"]) delete env[name];
  const child = spawn(process.execPath, [self, CLIENT_FLAG, String(port)], {
    env,
    cwd: here,
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.add(child);
  child.on("exit", () => children.delete(child));
  let checks;
  createInterface({ input: child.stdout }).on("line", (line) => {
    const m = /^client checks passed: (\d+)$/.exec(line);
    if (m) checks = Number(m[1]);
    else console.log(line);
  });
  return new Promise((resolveRun, rejectRun) => {
    child.on("exit", (code, signal) => {
      if (code === 0 && checks !== undefined) return resolveRun(checks);
      passed += checks ?? 0;
      rejectRun(new Error(`the client failed (exit ${code ?? signal})`));
    });
  });
}

function statsOf(sim) {
  const line = sim.output.find((l) => l.startsWith("broker-sim: schwab stats:")) ?? "";
  const stats = {};
  for (const [, k, v] of line.matchAll(/(\w+)=(\d+)/g)) stats[k] = Number(v);
  return { line, stats };
}

async function parentMain() {
  if (!existsSync(resolve(here, "node_modules", "schwab-client-js"))) {
    fail("schwab-client-js is not installed: run npm ci in tests/conformance/schwab");
  }
  const simPath = resolve(process.argv[2] ?? resolve(here, "../../../build/bin/broker-sim"));
  if (!existsSync(simPath)) fail(`${simPath} does not exist: build broker-sim first`);
  const overall = setTimeout(() => fail(`not done after ${TOTAL_TIMEOUT_MS} ms`), TOTAL_TIMEOUT_MS);
  const tlsDir = mkdtempSync(join(tmpdir(), "brokerd-schwab-conformance-"));
  const sim = startSimulator(simPath, tlsDir);
  try {
    const { port, ca } = await sim.ready;
    check(resolve(ca) === resolve(tlsDir, "ca.pem"), `the CA is ${ca}, not in --tls-dir ${tlsDir}`);
    console.log(`simulator ready on 127.0.0.1:${port}, CA ${ca}`);
    passed += await runClient(port, ca);
    const code = await stopSimulator(sim);
    check(code === 0, `broker-sim exited with ${code}`);
    const { line, stats } = statsOf(sim);
    check(line !== "", "broker-sim printed no schwab stats line");
    const expect = {
      orders_created: 2,
      refresh_grants: 1, // the client refreshes once and keeps its token for 29 minutes
      code_grants: 0,
      token_refusals: 1, // the bad refresh token at the end
      refresh_tokens_issued: 0,
      rate_limited: 0,
      early_retries: 0,
      unauthorized: 0,
    };
    for (const [k, v] of Object.entries(expect))
      check(stats[k] === v, `simulator ${k}=${stats[k]}, expected ${v}: ${line}`);
    console.log(`ok   ${line}`);
  } catch (e) {
    fail(e?.message ?? String(e));
  } finally {
    await stopSimulator(sim);
    rmSync(tlsDir, { recursive: true, force: true });
  }
  clearTimeout(overall);
  console.log(`schwab conformance: ${passed} checks passed, 0 failures`);
}

// == the client: schwab-client-js against the simulator ==========================================

/// Sends the client's requests for api.schwabapi.com to the simulator; records each request and
/// the Location of each response.
function redirectFetch(port) {
  const realFetch = globalThis.fetch;
  const sent = [];
  globalThis.fetch = async (input, init = {}) => {
    const url = typeof input === "string" ? input : input.url;
    if (!url.startsWith(`${SCHWAB}/`)) throw new Error(`the client asked for ${url}`);
    const target = `https://127.0.0.1:${port}${url.slice(SCHWAB.length)}`;
    const response = await realFetch(target, init);
    sent.push({
      method: init.method ?? "GET",
      path: url.slice(SCHWAB.length),
      headers: new Headers(init.headers),
      body: init.body === undefined ? undefined : String(init.body),
      status: response.status,
      location: response.headers.get("location"),
    });
    return response;
  };
  return sent;
}

async function clientMain() {
  const [, , , portText] = process.argv;
  try {
    const ca = process.env.NODE_EXTRA_CA_CERTS;
    check(ca && existsSync(ca), "NODE_EXTRA_CA_CERTS does not name the simulator's CA");
    const port = Number(portText);
    const sent = redirectFetch(port);
    const lib = await import("schwab-client-js");
    const help = await import("schwab-client-js/orderhelp");
    await tradingPhase(lib, help, sent, port);
  } catch (e) {
    process.stderr.write(`FAIL: ${e?.message ?? e}\n`);
    console.log(`client checks passed: ${passed}`);
    process.exit(1);
  }
  console.log(`client checks passed: ${passed}`);
  process.exit(0);
}

function withTimeout(promise, label, ms = STEP_TIMEOUT_MS) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${label}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/// Polls orderById until the order's status is `status`.
async function waitStatus(client, hash, orderId, status) {
  return withTimeout(
    (async () => {
      for (;;) {
        const o = await client.orderById(hash, orderId);
        if (o.status === status) return o;
        await new Promise((r) => setTimeout(r, 25));
      }
    })(),
    `order ${orderId} to become ${status}`,
  );
}

/// `fn` must reject; the error's message must contain every one of `words`.
async function expectError(fn, words, label) {
  let error;
  try {
    await fn();
  } catch (e) {
    error = e;
  }
  check(error instanceof Error, `${label}: succeeded, expected an error`);
  for (const w of words) check(error.message.includes(w), `${label}: "${error.message}" lacks "${w}"`);
  return error;
}

async function tradingPhase(lib, help, sent, port) {
  const client = new lib.TradingApiClient(APP_KEY, APP_SECRET, REFRESH);
  const originalError = console.error;
  console.error = () => {}; // the client logs every failed fetch: the expected ones below

  // -- the refresh grant and the account numbers ------------------------------------------------
  const numbers = await client.accountsNumbers();
  const grant = sent.find((r) => r.path === "/v1/oauth/token");
  check(grant && grant.method === "POST" && grant.status === 200, `token request: ${JSON.stringify(grant)}`);
  const basic = Buffer.from(`${APP_KEY}:${APP_SECRET}`).toString("base64");
  check(grant.headers.get("authorization") === `Basic ${basic}`, "the token request has no Basic app credentials");
  const form = new URLSearchParams(grant.body);
  check(form.get("grant_type") === "refresh_token" && form.get("refresh_token") === REFRESH,
        `refresh form ${grant.body}`);
  check(Array.isArray(numbers) && numbers.length === 1, `accountsNumbers: ${JSON.stringify(numbers)}`);
  const { accountNumber, hashValue: hash } = numbers[0];
  check(accountNumber === ACCOUNT, `accountNumber ${JSON.stringify(accountNumber)}`);
  check(isHash(hash), `hashValue ${hash}`);
  const bearer = sent.find((r) => r.path === "/trader/v1/accounts/accountNumbers").headers.get("authorization");
  check(/^Bearer I0\..+@$/.test(bearer ?? ""), `the Trader call's Authorization is ${bearer}`);
  console.log(`ok   refresh grant, accountsNumbers: ${accountNumber} → ${hash.slice(0, 12)}…`);

  // -- the account, flat -------------------------------------------------------------------------
  const flat = await client.accountsDetails(hash, "positions");
  const acct = flat.securitiesAccount;
  check(acct.type === "CASH" && acct.accountNumber === ACCOUNT, `account ${acct.type} ${acct.accountNumber}`);
  check(!("positions" in acct), "a flat account lists positions");
  const cash = acct.currentBalances.cashBalance;
  check(isNumber(cash) && cash === 100000, `cashBalance ${cash}`);
  check(isNumber(acct.currentBalances.cashAvailableForTrading), "no cashAvailableForTrading");
  check(flat.aggregatedBalance.liquidationValue === 100000, `liquidationValue ${flat.aggregatedBalance.liquidationValue}`);
  console.log(`ok   accountsDetails(positions): CASH, cashBalance ${cash}, no positions`);

  // -- a market order and the position it makes --------------------------------------------------
  const market = await client.placeOrderByAcct(hash, help.equityBuyMarket(SYMBOL, 2));
  check(market && /^\d+$/.test(market.orderId), `market order: ${JSON.stringify(market)}`);
  const filled = await waitStatus(client, hash, market.orderId, "FILLED");
  const fill = filled.orderActivityCollection?.[0]?.executionLegs?.[0];
  check(fill && fill.price === Number(MARKET) && fill.quantity === 2, `fill ${JSON.stringify(fill)}`);
  check(filled.filledQuantity === 2 && filled.remainingQuantity === 0, "filled quantities");
  const held = await client.accountsDetails(hash, "positions");
  const positions = held.securitiesAccount.positions;
  check(Array.isArray(positions) && positions.length === 1, `positions ${JSON.stringify(positions)}`);
  const pos = positions[0];
  check(pos.instrument.symbol === SYMBOL && pos.longQuantity === 2 && pos.shortQuantity === 0,
        `position ${pos.instrument.symbol} ${pos.longQuantity}/${pos.shortQuantity}`);
  check(pos.averagePrice === Number(MARKET) && isNumber(pos.marketValue), `position prices ${pos.averagePrice} ${pos.marketValue}`);
  check(held.securitiesAccount.currentBalances.cashBalance === 100000 - 2 * Number(MARKET), "cash after the fill");
  const all = await client.accountsAll("positions");
  check(Array.isArray(all) && all.length === 1 && all[0].securitiesAccount.positions.length === 1,
        `accountsAll: ${JSON.stringify(all).slice(0, 200)}`);
  console.log(`ok   market order ${market.orderId} FILLED 2 @ ${fill.price}; position ${pos.longQuantity} ${SYMBOL}`);

  // -- a limit order: create, get, list, cancel --------------------------------------------------
  const order = help.equityBuyLimit(SYMBOL, 1, "100.00");
  check(order.price === "100.00", "the helper sends the price as a string");
  const placed = await client.placeOrderByAcct(hash, order);
  check(placed && /^\d{13}$/.test(placed.orderId), `limit order: ${JSON.stringify(placed)}`);
  const create = sent.filter((r) => r.method === "POST" && r.path.endsWith("/orders")).at(-1);
  check(create.status === 201, `create answered ${create.status}`);
  check(create.location === `https://127.0.0.1:${port}/trader/v1/accounts/${hash}/orders/${placed.orderId}`,
        `Location ${create.location}`);
  const limitId = placed.orderId;
  const got = await client.orderById(hash, limitId);
  check(got.orderId === Number(limitId), `orderId ${got.orderId} is not the number ${limitId}`);
  check(got.orderType === "LIMIT" && got.price === 100, `order ${got.orderType} @ ${JSON.stringify(got.price)}`);
  check(["PENDING_ACTIVATION", "WORKING"].includes(got.status), `status ${got.status}`);
  check(got.accountNumber === Number(ACCOUNT), `order accountNumber ${JSON.stringify(got.accountNumber)}`);
  check(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0000$/.test(got.enteredTime), `enteredTime ${got.enteredTime}`);
  check(got.orderLegCollection[0].instrument.symbol === SYMBOL, "the leg's symbol");
  await waitStatus(client, hash, limitId, "WORKING");
  console.log(`ok   limit order ${limitId}: id from Location, orderById ${got.status} @ ${got.price}`);

  const now = Date.now();
  const from = new Date(now - 3600_000).toISOString();
  const to = new Date(now + 3600_000).toISOString();
  const listed = await client.ordersByAccount(hash, from, to);
  check(Array.isArray(listed) && listed.length === 2, `ordersByAccount lists ${listed?.length}`);
  check(listed[0].orderId === Number(limitId), "ordersByAccount is not newest first");
  const working = await client.ordersByAccount(hash, from, to, "WORKING");
  check(working.length === 1 && working[0].orderId === Number(limitId), `status=WORKING lists ${working.length}`);
  const everywhere = await client.orderAll(from, to);
  check(everywhere.length === 2, `orderAll lists ${everywhere.length}`);
  await expectError(() => client.ordersByAccount(hash, "2020-01-01T00:00:00Z", "2020-01-02T00:00:00Z"),
                    ["400", "60 days"], "a window older than 60 days");
  console.log(`ok   ordersByAccount ${from} .. ${to}: ${listed.length} orders`);

  const deleted = await client.orderDelete(hash, limitId);
  check(deleted === null, `orderDelete returned ${JSON.stringify(deleted)}`);
  const del = sent.filter((r) => r.method === "DELETE").at(-1);
  check(del.status === 200, `cancel answered ${del.status}`);
  const canceled = await waitStatus(client, hash, limitId, "CANCELED");
  check(canceled.remainingQuantity === 0 && canceled.filledQuantity === 0, "canceled quantities");
  check(typeof canceled.closeTime === "string" && canceled.closeTime.endsWith("+0000"), `closeTime ${canceled.closeTime}`);
  check(canceled.cancelable === false, "a canceled order is still cancelable");
  console.log("ok   orderDelete: 200, then CANCELED with remainingQuantity 0 and a closeTime");

  // -- errors as the client reports them ---------------------------------------------------------
  await expectError(() => client.orderDelete(hash, limitId), ["400", "cannot be canceled"], "a second cancel");
  await expectError(() => client.orderById(hash, "1"), ["404", "Order not found"], "an unknown order");
  await expectError(() => client.accountsDetails(ACCOUNT), ["400", "Invalid account number"], "the plain account number");
  const dead = new lib.TradingApiClient(APP_KEY, APP_SECRET, "not-a-refresh-token");
  await expectError(() => dead.accountsNumbers(), ["failed to update access token", "400"], "a bad refresh token");
  const refused = sent.filter((r) => r.path === "/v1/oauth/token").at(-1);
  check(refused.status === 400, `the bad refresh was answered ${refused.status}`);
  console.error = originalError;
  console.log("ok   errors: 400 cannot be canceled, 404 Order not found, 400 Invalid account number, refused refresh");
}
