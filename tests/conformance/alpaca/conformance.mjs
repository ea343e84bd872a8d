// Conformance of brokerd's Alpaca simulator with Alpaca's own client, @alpacahq/alpaca-trade-api.
//
// Version: 4.0.2, the release alpaca-api.md is written against. Its REST models are generated
// from Alpaca's Trading OpenAPI document, so its required fields and enums are the spec's; the
// 3.x line is not generated from that document.
//
// Two phases, each against its own `broker-sim --alpaca-port 0` with a fresh TLS directory:
//
//   1. trading: account (cash, equity and buying_power as decimal strings), positions, a LIMIT
//      and a MARKET order with client_order_ids, lookup by id and by client_order_id, the
//      error envelope of a duplicate client_order_id (422) and of an unknown order (404), a
//      cancel (204, then canceled), order lists, and the trade_updates stream through the
//      client's TradingStream: authorized, listening, `new` and `fill` of the market order,
//      `canceled` of the limit order.
//   2. rate limit: 2 requests a second; the client's retry (GET only) must honour the 429's
//      Retry-After, so that the simulator counts no early retry.
//
// The client side of each phase runs in a child node process whose NODE_EXTRA_CA_CERTS names
// the simulator's generated CA (Node reads that variable at start only): TLS is verified, for
// the address 127.0.0.1 that the certificate covers. Fails (exit code 1) with a message on the
// first failed check, and after 45 s in all.
//
// usage: node conformance.mjs [path/to/broker-sim]   (default ../../../build/bin/broker-sim)

import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { createInterface } from "node:readline";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const self = fileURLToPath(import.meta.url);
const TOTAL_TIMEOUT_MS = 45_000;
const STEP_TIMEOUT_MS = 8_000;
const KEY = "conformance-key";
const SECRET = "conformance-secret";
const SYMBOL = "AAPL";
const MARKET = "187.25";
const CLIENT_FLAG = "--client";

let passed = 0;
const children = new Set(); // processes to kill when the run fails

function fail(message) {
  for (const child of children) child.kill("SIGKILL");
  console.error(`FAIL: ${message}`);
  console.error(`alpaca conformance: ${passed} checks passed, 1 failure`);
  process.exit(1);
}

function check(condition, message) {
  if (!condition) throw new Error(message);
  ++passed;
}

function withTimeout(promise, label, ms = STEP_TIMEOUT_MS) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${label}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const decimal = /^-?\d+(\.\d+)?$/;
const isDecimal = (v) => typeof v === "string" && decimal.test(v);

if (process.argv[2] === CLIENT_FLAG) {
  await clientMain();
} else {
  await parentMain();
}

// == the parent: simulators and child processes =================================================

function startSimulator(simPath, tlsDir, extraArgs) {
  const child = spawn(
    simPath,
    [
      "--alpaca-port", "0",
      "--alpaca-key", KEY,
      "--alpaca-secret", SECRET,
      "--tls-dir", tlsDir,
      "--tick-ms", "50",
      "--prices", `${SYMBOL}=${MARKET}`,
      ...extraArgs,
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
      const m = /^broker-sim: alpaca listening on ([^ ]+):(\d+) \(CA in (.+)\)$/.exec(line);
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

/// Runs this file as the client of `phase` with the simulator's CA trusted; resolves with the
/// number of checks it passed. Its output is passed through.
function runClient(phase, port, ca) {
  const env = { ...process.env, NODE_EXTRA_CA_CERTS: ca };
  delete env.NODE_TLS_REJECT_UNAUTHORIZED; // verification stays on whatever the caller set
  const child = spawn(process.execPath, [self, CLIENT_FLAG, phase, String(port)], {
    env,
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
      rejectRun(new Error(`the ${phase} client failed (exit ${code ?? signal})`));
    });
  });
}

function statsOf(sim) {
  const line = sim.output.find((l) => l.startsWith("broker-sim: alpaca stats:")) ?? "";
  const stats = {};
  for (const [, k, v] of line.matchAll(/(\w+)=(\d+)/g)) stats[k] = Number(v);
  return { line, stats };
}

async function phase(simPath, name, simArgs, expect) {
  const tlsDir = mkdtempSync(join(tmpdir(), "brokerd-alpaca-conformance-"));
  const sim = startSimulator(simPath, tlsDir, simArgs);
  try {
    const { port, ca } = await sim.ready;
    check(resolve(ca) === resolve(tlsDir, "ca.pem"), `the CA is ${ca}, not in --tls-dir ${tlsDir}`);
    console.log(`simulator (${name}) ready on 127.0.0.1:${port}, CA ${ca}`);
    passed += await runClient(name, port, ca);
    const code = await stopSimulator(sim);
    check(code === 0, `broker-sim exited with ${code}`);
    const { line, stats } = statsOf(sim);
    check(line !== "", "broker-sim printed no alpaca stats line");
    for (const [k, v] of Object.entries(expect))
      check(stats[k] === v, `simulator ${k}=${stats[k]}, expected ${v}: ${line}`);
    console.log(`ok   ${line}`);
  } finally {
    await stopSimulator(sim);
    rmSync(tlsDir, { recursive: true, force: true });
  }
}

async function parentMain() {
  if (!existsSync(resolve(here, "node_modules", "@alpacahq", "alpaca-trade-api"))) {
    fail("@alpacahq/alpaca-trade-api is not installed: run npm ci in tests/conformance/alpaca");
  }
  const simPath = resolve(process.argv[2] ?? resolve(here, "../../../build/bin/broker-sim"));
  if (!existsSync(simPath)) fail(`${simPath} does not exist: build broker-sim first`);
  const overall = setTimeout(() => fail(`not done after ${TOTAL_TIMEOUT_MS} ms`), TOTAL_TIMEOUT_MS);
  try {
    await phase(simPath, "trading", [], {
      orders_created: 2,
      rate_limited: 0,
      early_retries: 0,
      stream_connections: 1,
    });
    await phase(
      simPath,
      "rate",
      ["--alpaca-requests-per-minute", "2", "--alpaca-rate-window-ms", "1000"],
      { requests: 4, rate_limited: 1, early_retries: 0, max_in_any_minute: 2 },
    );
  } catch (e) {
    fail(e?.message ?? String(e));
  }
  clearTimeout(overall);
  console.log(`alpaca conformance: ${passed} checks passed, 0 failures`);
}

// == the client: the official library against the simulator =====================================

async function clientMain() {
  const [, , , name, portText] = process.argv;
  try {
    const ca = process.env.NODE_EXTRA_CA_CERTS;
    check(ca && existsSync(ca), "NODE_EXTRA_CA_CERTS does not name the simulator's CA");
    const lib = await import("@alpacahq/alpaca-trade-api");
    const port = Number(portText);
    if (name === "trading") await tradingPhase(lib, port);
    else if (name === "rate") await ratePhase(lib, port);
    else throw new Error(`unknown phase ${name}`);
  } catch (e) {
    console.error(`FAIL: ${e?.message ?? e}`);
    console.log(`client checks passed: ${passed}`);
    process.exit(1);
  }
  console.log(`client checks passed: ${passed}`);
  process.exit(0);
}

function restConfig(lib, port, extra = {}) {
  return new lib.trading.Configuration({
    keyId: KEY,
    secret: SECRET,
    basePath: `https://127.0.0.1:${port}`,
    ...extra,
  });
}

/// `fn` must reject with an instance of `type` carrying `status` and Alpaca `code`.
async function expectApiError(fn, type, status, code, label) {
  let error;
  try {
    await fn();
  } catch (e) {
    error = e;
  }
  check(error instanceof type, `${label}: expected ${type.name}, got ${error?.name ?? "success"}`);
  check(error.status === status, `${label}: status ${error.status}, expected ${status}`);
  check(Number(error.code) === code, `${label}: code ${error.code}, expected ${code}`);
  check(typeof error.requestId === "string" && error.requestId !== "", `${label}: no X-Request-ID`);
  return error;
}

/// The generated model's own test of its required fields, and every enum value in its enum.
function checkModel(trading, o, model, enums, label) {
  check(trading[`instanceOf${model}`](o), `${label}: not a complete ${model} (a required field is missing)`);
  for (const [field, type] of Object.entries(enums))
    if (o[field] !== undefined)
      check(trading[`instanceOf${type}`](o[field]), `${label}: ${field} ${JSON.stringify(o[field])} is not a ${type}`);
}

function checkOrderShape(trading, o, label) {
  checkModel(trading, o, "Order", {
    assetClass: "AssetClass", orderClass: "OrderClass", side: "OrderSide", status: "OrderStatus",
    timeInForce: "TimeInForce", type: "OrderType", positionIntent: "PositionIntent",
  }, label);
  check(typeof o.id === "string" && o.id !== "", `${label}: no id`);
  check(o.symbol === SYMBOL, `${label}: symbol ${o.symbol}`);
  check(o.createdAt instanceof Date && !Number.isNaN(o.createdAt.getTime()), `${label}: created_at`);
  check(isDecimal(o.qty) && isDecimal(o.filledQty), `${label}: qty ${o.qty} filled_qty ${o.filledQty}`);
  for (const key of ["filled_at", "canceled_at", "expired_at", "failed_at", "replaced_at"])
    check(key in o, `${label}: the key ${key} is missing (it is sent as null until set)`);
}

async function tradingPhase(lib, port) {
  const { trading, streaming, OrdersApi, withResponse, ValidationError, NotFoundError } = lib;
  const config = restConfig(lib, port);
  const accounts = new trading.AccountsApi(config);
  const positionsApi = new trading.PositionsApi(config);
  const orders = new OrdersApi(config);

  // -- account and positions -------------------------------------------------------------------
  const account = await accounts.getAccount();
  for (const field of ["cash", "equity", "buying_power"]) {
    check(isDecimal(account[field]), `account ${field} ${JSON.stringify(account[field])} is not a decimal string`);
  }
  check(account.buyingPower === account.buying_power, "account buyingPower differs from buying_power");
  checkModel(trading, account, "Account", { status: "AccountStatus", cryptoStatus: "AccountStatus" }, "account");
  check(account.status === "ACTIVE", `account status ${account.status}`);
  check(account.currency === "USD", `account currency ${account.currency}`);
  check(typeof account.id === "string" && account.id !== "", "account has no id");
  console.log(`ok   getAccount: cash ${account.cash} equity ${account.equity} buying_power ${account.buyingPower}`);

  const none = await positionsApi.getAllOpenPositions();
  check(Array.isArray(none) && none.length === 0, `positions of a new account: ${JSON.stringify(none)}`);
  console.log("ok   getAllOpenPositions: []");

  // -- the stream, before any order --------------------------------------------------------------
  const updates = [];
  const errors = [];
  let waiters = [];
  const stream = new streaming.TradingStream({
    credentials: { keyId: KEY, secret: SECRET },
    url: `wss://127.0.0.1:${port}/stream`,
    reconnect: false,
  });
  stream.onError((e) => errors.push(String(e)));
  stream.onTradeUpdate((u) => {
    updates.push(u);
    for (const w of [...waiters])
      if (w.pred(u)) {
        waiters = waiters.filter((x) => x !== w);
        w.resolve(u);
      }
  });
  const listening = new Promise((r) => stream.on(streaming.EVENT.SUBSCRIPTION, r));
  stream.onConnect(() => stream.subscribeTradeUpdates());
  const nextUpdate = (pred, label) =>
    withTimeout(
      new Promise((r) => {
        const seen = updates.find(pred);
        if (seen) r(seen);
        else waiters.push({ pred, resolve: r });
      }),
      label,
    );
  stream.connect();
  const auth = await stream.waitForAuthenticationResult(STEP_TIMEOUT_MS);
  check(auth.authenticated, `stream authentication: ${auth.status} ${auth.message}`);
  const streams = await withTimeout(listening, "the listening acknowledgement");
  check(Array.isArray(streams) && streams.includes("trade_updates"), `listening to ${JSON.stringify(streams)}`);
  console.log(`ok   TradingStream: authorized, listening ${JSON.stringify(streams)}`);

  // -- orders ------------------------------------------------------------------------------------
  const limitId = `conformance-lmt-${randomUUID()}`;
  const limit = await orders.limit({ symbol: SYMBOL, side: "buy", qty: 1, limitPrice: 100, clientOrderId: limitId });
  checkOrderShape(trading, limit, "limit order");
  check(limit.clientOrderId === limitId, `limit client_order_id ${limit.clientOrderId}`);
  check(limit.type === "limit" && limit.limitPrice === "100", `limit ${limit.type} @ ${limit.limitPrice}`);
  check(["accepted", "pending_new", "new"].includes(limit.status), `limit status ${limit.status}`);
  console.log(`ok   limit order ${limit.id} (${limitId}): ${limit.status}`);

  const marketId = `conformance-mkt-${randomUUID()}`;
  const market = await orders.market({ symbol: SYMBOL, side: "buy", qty: 2, clientOrderId: marketId });
  checkOrderShape(trading, market, "market order");
  check(market.clientOrderId === marketId, `market client_order_id ${market.clientOrderId}`);
  check(market.type === "market" && market.limitPrice === undefined, `market ${market.type} @ ${market.limitPrice}`);
  check(["accepted", "pending_new", "new"].includes(market.status), `market status ${market.status}`);
  console.log(`ok   market order ${market.id} (${marketId}): ${market.status}`);

  const ofMarket = (event) => (u) => u.event === event && u.order.id === market.id;
  const mNew = await nextUpdate(ofMarket("new"), "trade_updates new of the market order");
  check(mNew.order.clientOrderId === marketId, `new event client_order_id ${mNew.order.clientOrderId}`);
  check(mNew.timestamp instanceof Date && !Number.isNaN(mNew.timestamp.getTime()), "new event timestamp");
  const fill = await nextUpdate(ofMarket("fill"), "trade_updates fill of the market order");
  check(fill.order.clientOrderId === marketId, `fill event client_order_id ${fill.order.clientOrderId}`);
  check(fill.order.status === "filled", `fill event order status ${fill.order.status}`);
  check(fill.price === MARKET && fill.qty === "2" && fill.positionQty === "2",
        `fill ${fill.qty} @ ${fill.price}, position ${fill.positionQty}`);
  check(typeof fill.executionId === "string" && fill.executionId !== "", "fill without execution_id");
  console.log(`ok   trade_updates: new, fill ${fill.qty} @ ${fill.price} (${fill.executionId})`);
  const lNew = await nextUpdate((u) => u.event === "new" && u.order.id === limit.id, "trade_updates new of the limit order");
  check(lNew.order.clientOrderId === limitId, `limit new event client_order_id ${lNew.order.clientOrderId}`);
  console.log("ok   trade_updates: new of the limit order");

  const byId = await orders.getOrderByOrderID({ orderId: market.id });
  checkOrderShape(trading, byId, "the filled order");
  checkOrderShape(trading, fill.order, "the order of the fill event");
  check(byId.id === market.id && byId.clientOrderId === marketId, "getOrderByOrderID returned another order");
  check(byId.status === "filled" && byId.filledQty === "2" && byId.filledAvgPrice === MARKET,
        `market order ${byId.status} ${byId.filledQty} @ ${byId.filledAvgPrice}`);
  check(byId.filledAt instanceof Date, "filled order without filled_at");
  console.log(`ok   getOrderByOrderID: ${byId.status} ${byId.filledQty} @ ${byId.filledAvgPrice}`);

  const byClient = await orders.getOrderByClientOrderId({ clientOrderId: limitId });
  check(byClient.id === limit.id, `getOrderByClientOrderId returned ${byClient.id}, expected ${limit.id}`);
  check(byClient.status === "new", `limit order status ${byClient.status}`);
  console.log(`ok   getOrderByClientOrderId: ${byClient.id} ${byClient.status}`);

  const held = await positionsApi.getAllOpenPositions();
  check(held.length === 1, `positions after the fill: ${held.length}`);
  const pos = held[0];
  checkModel(trading, pos, "Position", { assetClass: "AssetClass", exchange: "ExchangeForPosition" }, "position");
  check(pos.symbol === SYMBOL && pos.qty === "2" && pos.side === "long", `position ${pos.symbol} ${pos.qty} ${pos.side}`);
  for (const field of ["avgEntryPrice", "marketValue", "costBasis", "unrealizedPl", "unrealizedPlpc",
                       "unrealizedIntradayPl", "unrealizedIntradayPlpc", "currentPrice", "lastdayPrice",
                       "changeToday"])
    check(isDecimal(pos[field]), `position ${field} ${JSON.stringify(pos[field])} is not a decimal string`);
  check(typeof pos.assetId === "string" && typeof pos.assetMarginable === "boolean", "position asset fields");
  check(pos.assetClass === "us_equity" && typeof pos.exchange === "string", "position asset class / exchange");
  console.log(`ok   getAllOpenPositions: ${pos.symbol} ${pos.qty} @ ${pos.avgEntryPrice}`);

  // -- errors through the client's typed envelope ----------------------------------------------
  await expectApiError(
    () => orders.limit({ symbol: SYMBOL, side: "buy", qty: 1, limitPrice: 100, clientOrderId: limitId }),
    ValidationError, 422, 40010001, "a reused client_order_id",
  );
  await expectApiError(
    () => orders.getOrderByOrderID({ orderId: randomUUID() }),
    NotFoundError, 404, 40410000, "an unknown order id",
  );
  console.log("ok   errors: 422 40010001 for a reused client_order_id, 404 40410000 for an unknown id");

  // -- cancel and lists ---------------------------------------------------------------------------
  const cancel = await withResponse(orders.deleteOrderByOrderIDRaw({ orderId: limit.id }));
  check(cancel.status === 204, `cancel answered ${cancel.status}, expected 204`);
  const canceled = await nextUpdate((u) => u.event === "canceled" && u.order.id === limit.id,
                                    "trade_updates canceled of the limit order");
  check(canceled.order.clientOrderId === limitId, `canceled event client_order_id ${canceled.order.clientOrderId}`);
  const after = await orders.getOrderByOrderID({ orderId: limit.id });
  check(after.status === "canceled" && after.canceledAt instanceof Date, `after the cancel: ${after.status}`);
  console.log("ok   deleteOrderByOrderID: 204, trade_updates canceled, status canceled");

  const all = await orders.getAllOrders({ status: "all" });
  const ids = new Set(all.map((o) => o.id));
  check(ids.has(limit.id) && ids.has(market.id) && all.length === 2, `status=all lists ${all.length} orders`);
  const open = await orders.getAllOrders({ status: "open" });
  check(open.length === 0, `status=open lists ${open.length} orders`);
  const closed = await orders.getAllOrders({ status: "closed", symbols: [SYMBOL] });
  check(closed.length === 2, `status=closed lists ${closed.length} orders`);
  console.log(`ok   getAllOrders: all ${all.length}, open ${open.length}, closed ${closed.length}`);

  const perOrder = (id) => updates.filter((u) => u.order.id === id).map((u) => u.event).join(",");
  check(perOrder(market.id) === "new,fill", `market order events ${perOrder(market.id)}`);
  check(perOrder(limit.id) === "new,canceled", `limit order events ${perOrder(limit.id)}`);
  check(errors.length === 0, `the stream reported errors: ${errors.join("; ")}`);
  stream.disconnect();
  console.log("ok   stream: no errors, events in order");
}

async function ratePhase(lib, port) {
  const retried = [];
  const config = restConfig(lib, port, {
    retry: { maxRetries: 2, respectRetryAfter: true, onRetry: (e) => retried.push(e) },
  });
  const accounts = new lib.trading.AccountsApi(config);
  const started = Date.now();
  for (let i = 0; i < 3; ++i) {
    const account = await accounts.getAccount();
    check(isDecimal(account.cash), `request ${i + 1}: no account`);
  }
  check(retried.length === 1 && retried[0].status === 429, `retries: ${JSON.stringify(retried)}`);
  check(retried[0].delayMs === 1000, `the client waited ${retried[0].delayMs} ms, not Retry-After 1 s`);
  check(Date.now() - started >= 1000, "the third request passed without a wait");
  console.log(`ok   rate limit: 429 with Retry-After 1, the client waited ${retried[0].delayMs} ms and got 200`);
}
