// Conformance of brokerd's TWS simulator with an independent client library, @stoqey/ib.
//
// Starts `broker-sim --tws-port 0` as a child, then drives it with @stoqey/ib's IBApi through
// the gateway's whole session: connect (nextValidId + managedAccounts), reqIds, reqCurrentTime,
// reqAccountSummary, reqPositions, a resting LMT order, a filling MKT order, a cancel,
// reqOpenOrders and reqExecutions. Fails (exit code 1) on any error event the library raises
// for a message it could not decode, on any unexpected error or notice code, on a missing step
// and after 30 s in all. The simulator's own statistics must show that it decoded everything
// the library sent.
//
// usage: node conformance.mjs [path/to/broker-sim]   (default ../../../build/bin/broker-sim)

import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createInterface } from "node:readline";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
if (!existsSync(resolve(here, "node_modules", "@stoqey", "ib"))) {
  console.error("FAIL: @stoqey/ib is not installed: run npm ci in tests/conformance/ibkr");
  process.exit(1);
}
const { IBApi, EventName, OrderAction, OrderType, SecType } = await import("@stoqey/ib");

const simPath = resolve(process.argv[2] ?? resolve(here, "../../../build/bin/broker-sim"));
const TOTAL_TIMEOUT_MS = 30_000;
const STEP_TIMEOUT_MS = 8_000;
const CLIENT_ID = 11;
const SYMBOL = "AAPL";
const MARKET = 187.25;

// -- bookkeeping -------------------------------------------------------------------------------

const events = []; // { name, args } in arrival order
const decodeErrors = []; // library errors about messages it could not decode
const unexpected = []; // any other error or notice nobody expected
const expectedErrors = new Map(); // `${reqId}:${code}` -> count still expected
const expectedNotices = new Set([2104, 2106, 2158]);
let waiters = [];
let sim;
let ib;
let finished = false;

function fail(message) {
  if (finished) return;
  finished = true;
  console.error(`FAIL: ${message}`);
  if (decodeErrors.length) console.error(`library decode errors:\n  ${decodeErrors.join("\n  ")}`);
  if (unexpected.length) console.error(`unexpected errors:\n  ${unexpected.join("\n  ")}`);
  shutdown().finally(() => process.exit(1));
}

function record(name, ...args) {
  events.push({ name, args });
  for (const w of [...waiters]) {
    if (w.match(name, args)) {
      waiters = waiters.filter((x) => x !== w);
      w.resolve(args);
    }
  }
}

/// Resolves with the args of the first event `name` (already seen after index `from`, or coming)
/// for which `pred` holds; fails the run after STEP_TIMEOUT_MS.
function waitFor(name, pred = () => true, label = name, from = 0) {
  for (let i = from; i < events.length; ++i)
    if (events[i].name === name && pred(...events[i].args)) return Promise.resolve(events[i].args);
  return new Promise((resolveWait) => {
    const timer = setTimeout(
      () => fail(`timed out after ${STEP_TIMEOUT_MS} ms waiting for ${label}`),
      STEP_TIMEOUT_MS,
    );
    waiters.push({
      match: (n, args) => n === name && pred(...args),
      resolve: (args) => {
        clearTimeout(timer);
        resolveWait(args);
      },
    });
  });
}

function check(condition, message) {
  if (!condition) fail(message);
}

function isDecodeProblem(text) {
  return /Decoding error|Underrun|unprocessed data|No parser implementation|Unsupported Version/i.test(
    text,
  );
}

// -- the simulator -----------------------------------------------------------------------------

function startSimulator() {
  if (!existsSync(simPath)) throw new Error(`${simPath} does not exist: build broker-sim first`);
  const child = spawn(
    simPath,
    ["--tws-port", "0", "--tick-ms", "50", "--prices", `${SYMBOL}=${MARKET}`],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  const output = [];
  const lines = createInterface({ input: child.stdout });
  const ready = new Promise((resolveReady, rejectReady) => {
    const timer = setTimeout(() => rejectReady(new Error("broker-sim printed no ready line")), 10_000);
    lines.on("line", (line) => {
      output.push(line);
      const m = /^broker-sim: tws listening on ([^ ]+):(\d+)$/.exec(line);
      if (m) {
        clearTimeout(timer);
        resolveReady(Number(m[2]));
      }
    });
    child.on("exit", (code) => rejectReady(new Error(`broker-sim exited early (${code})`)));
  });
  const exited = new Promise((r) => child.on("exit", (code, signal) => r({ code, signal })));
  return { child, ready, exited, output };
}

async function shutdown() {
  try {
    ib?.disconnect();
  } catch {
    /* already gone */
  }
  if (sim && sim.child.exitCode === null) {
    sim.child.kill("SIGTERM");
    const timer = setTimeout(() => sim.child.kill("SIGKILL"), 5_000);
    await sim.exited;
    clearTimeout(timer);
  }
}

// -- the run -----------------------------------------------------------------------------------

async function run() {
  sim = startSimulator();
  const port = await sim.ready;
  console.log(`simulator ready on port ${port}`);

  ib = new IBApi({ host: "127.0.0.1", port });
  for (const name of [
    EventName.nextValidId,
    EventName.managedAccounts,
    EventName.currentTime,
    EventName.accountSummary,
    EventName.accountSummaryEnd,
    EventName.position,
    EventName.positionEnd,
    EventName.openOrder,
    EventName.openOrderEnd,
    EventName.orderStatus,
    EventName.execDetails,
    EventName.execDetailsEnd,
    EventName.commissionReport,
    EventName.connected,
    EventName.disconnected,
  ])
    ib.on(name, (...args) => record(name, ...args));

  ib.on(EventName.error, (err, code, reqId) => {
    const text = `error code=${code} reqId=${reqId}: ${err?.message ?? err}`;
    record("error", code, reqId, err?.message ?? String(err));
    if (isDecodeProblem(text)) {
      decodeErrors.push(text);
      fail(`the library could not decode a message: ${text}`);
      return;
    }
    const key = `${reqId}:${code}`;
    const left = expectedErrors.get(key) ?? 0;
    if (left > 0) {
      expectedErrors.set(key, left - 1);
      return;
    }
    unexpected.push(text);
    fail(`unexpected ${text}`);
  });
  ib.on(EventName.info, (message, code) => {
    record("info", code, message);
    if (!expectedNotices.has(code)) {
      unexpected.push(`notice code=${code}: ${message}`);
      fail(`unexpected notice code=${code}: ${message}`);
    }
  });
  ib.on(EventName.disconnected, () => {
    if (!finished && !stopping) fail("the simulator closed the connection");
  });

  // 1. connect: nextValidId and managedAccounts.
  ib.connect(CLIENT_ID);
  const [firstId] = await waitFor(EventName.nextValidId);
  const [accounts] = await waitFor(EventName.managedAccounts);
  check(Number.isInteger(firstId) && firstId > 0, `nextValidId ${firstId} is not a positive id`);
  check(accounts.split(",").includes("DU1234567"), `managedAccounts ${accounts} lacks DU1234567`);
  for (const code of expectedNotices)
    await waitFor("info", (c) => c === code, `notice ${code}`);
  console.log(`ok   connect: nextValidId ${firstId}, managedAccounts ${accounts}, notices 2104/2106/2158`);

  // 2. reqIds.
  let mark = events.length;
  ib.reqIds();
  const [nextId] = await waitFor(EventName.nextValidId, () => true, "nextValidId after reqIds", mark);
  check(nextId === firstId, `reqIds answered ${nextId}, expected ${firstId}`);
  console.log(`ok   reqIds: nextValidId ${nextId}`);

  // 3. reqCurrentTime.
  ib.reqCurrentTime();
  const [epoch] = await waitFor(EventName.currentTime);
  check(Math.abs(epoch - Date.now() / 1000) < 60, `currentTime ${epoch} is not now`);
  console.log(`ok   reqCurrentTime: ${epoch}`);

  // 4. reqAccountSummary to its End.
  const tags = ["NetLiquidation", "TotalCashValue", "BuyingPower"];
  ib.reqAccountSummary(1, "All", tags.join(","));
  await waitFor(EventName.accountSummaryEnd, (reqId) => reqId === 1, "accountSummaryEnd");
  const rows = events.filter((e) => e.name === EventName.accountSummary && e.args[0] === 1);
  for (const tag of tags) {
    const row = rows.find((e) => e.args[2] === tag);
    check(row, `no accountSummary row for ${tag}`);
    check(row.args[1] === "DU1234567", `${tag} row names account ${row.args[1]}`);
    check(row.args[4] === "USD", `${tag} row has currency ${row.args[4]}`);
    check(Number.isFinite(Number(row.args[3])), `${tag} value ${row.args[3]} is not a number`);
  }
  console.log(`ok   reqAccountSummary: ${rows.map((e) => `${e.args[2]}=${e.args[3]}`).join(" ")}`);

  // 5. reqPositions to its End.
  ib.reqPositions();
  await waitFor(EventName.positionEnd);
  console.log("ok   reqPositions: positionEnd");

  const contract = { symbol: SYMBOL, secType: SecType.STK, exchange: "SMART", currency: "USD" };

  // 6. A LMT order far from the market stays working.
  const lmtId = firstId;
  ib.placeOrder(lmtId, contract, {
    action: OrderAction.BUY,
    orderType: OrderType.LMT,
    totalQuantity: 10,
    lmtPrice: 100,
    tif: "DAY",
    transmit: true,
    orderRef: "conformance-lmt",
  });
  const [, lmtContract, lmtOrder, lmtState] = await waitFor(
    EventName.openOrder,
    (id) => id === lmtId,
    "openOrder of the LMT order",
  );
  check(lmtContract.symbol === SYMBOL, `openOrder symbol ${lmtContract.symbol}`);
  check(lmtOrder.orderType === "LMT" && lmtOrder.lmtPrice === 100, "openOrder LMT @100 expected");
  check(lmtOrder.orderRef === "conformance-lmt", `openOrder orderRef ${lmtOrder.orderRef}`);
  check(lmtState.status === "Submitted", `openOrder state ${lmtState.status}`);
  await waitFor(EventName.orderStatus, (id, st) => id === lmtId && st === "Submitted", "LMT Submitted");
  console.log(`ok   LMT order ${lmtId}: openOrder + orderStatus Submitted`);

  // 7. A MKT order fills.
  const mktId = firstId + 1;
  mark = events.length;
  ib.placeOrder(mktId, contract, {
    action: OrderAction.BUY,
    orderType: OrderType.MKT,
    totalQuantity: 5,
    tif: "DAY",
    transmit: true,
    orderRef: "conformance-mkt",
  });
  await waitFor(EventName.orderStatus, (id, st) => id === mktId && st === "Submitted", "MKT Submitted", mark);
  const [, , fillStatusFilled, fillRemaining, fillAvg] = await waitFor(
    EventName.orderStatus,
    (id, st) => id === mktId && st === "Filled",
    "MKT orderStatus Filled",
    mark,
  );
  check(fillStatusFilled === 5 && fillRemaining === 0, `Filled ${fillStatusFilled}/${fillRemaining}`);
  check(fillAvg === MARKET, `avgFillPrice ${fillAvg}, expected ${MARKET}`);
  const [execReqId, execContract, execution] = await waitFor(
    EventName.execDetails,
    (reqId, c, e) => e.orderId === mktId,
    "execDetails of the MKT order",
    mark,
  );
  check(execReqId === -1, `live execDetails reqId ${execReqId}, expected -1`);
  check(execContract.symbol === SYMBOL, `execDetails symbol ${execContract.symbol}`);
  check(execution.side === "BOT" && execution.shares === 5, `execution ${execution.side} ${execution.shares}`);
  check(execution.price === MARKET && execution.cumQty === 5, `execution price/cumQty`);
  check(execution.orderRef === "conformance-mkt", `execution orderRef ${execution.orderRef}`);
  const [report] = await waitFor(
    EventName.commissionReport,
    (r) => r.execId === execution.execId,
    "commissionReport of the execution",
    mark,
  );
  check(report.currency === "USD" && report.commission > 0, `commission ${report.commission}`);
  await waitFor(EventName.openOrder, (id, c, o, s) => id === mktId && s.status === "Filled", "openOrder Filled", mark);
  const [, , pos, avgCost] = await waitFor(
    EventName.position,
    (acct, c) => c.symbol === SYMBOL,
    "live position update",
    mark,
  );
  check(pos === 5 && avgCost > MARKET, `position ${pos} @ ${avgCost}`);
  console.log(
    `ok   MKT order ${mktId}: Submitted, execDetails ${execution.execId} 5 @ ${execution.price}, ` +
      `Filled, commission ${report.commission}, position ${pos} @ ${avgCost}`,
  );

  // 8. Cancel the LMT order: Cancelled plus error 202 for its id.
  expectedErrors.set(`${lmtId}:202`, 1);
  mark = events.length;
  ib.cancelOrder(lmtId);
  await waitFor(EventName.orderStatus, (id, st) => id === lmtId && st === "Cancelled", "LMT Cancelled", mark);
  await waitFor("error", (code, reqId) => code === 202 && reqId === lmtId, "error 202", mark);
  console.log(`ok   cancel ${lmtId}: orderStatus Cancelled + 202`);

  // 9. reqOpenOrders: nothing open any more.
  mark = events.length;
  ib.reqOpenOrders();
  await waitFor(EventName.openOrderEnd, () => true, "openOrderEnd", mark);
  const reopened = events.slice(mark).filter((e) => e.name === EventName.openOrder);
  check(reopened.length === 0, `reqOpenOrders listed ${reopened.length} orders, expected none`);
  console.log("ok   reqOpenOrders: openOrderEnd, no open orders");

  // 10. reqExecutions: the day's execution with the request's id.
  mark = events.length;
  ib.reqExecutions(2, { clientId: CLIENT_ID, symbol: SYMBOL });
  await waitFor(EventName.execDetailsEnd, (reqId) => reqId === 2, "execDetailsEnd", mark);
  const listed = events.slice(mark).filter((e) => e.name === EventName.execDetails);
  check(
    listed.length === 1 && listed[0].args[0] === 2 && listed[0].args[2].execId === execution.execId,
    `reqExecutions listed ${listed.length} executions, expected the one fill with reqId 2`,
  );
  console.log(`ok   reqExecutions: ${listed[0].args[2].execId} with reqId 2`);

  // 11. Stop: the simulator must have decoded everything the library sent.
  stopping = true;
  ib.disconnect();
  sim.child.kill("SIGTERM");
  const { code } = await sim.exited;
  check(code === 0, `broker-sim exited with ${code}`);
  const statsLine = sim.output.find((l) => l.startsWith("broker-sim: tws stats:")) ?? "";
  const simDecodeErrors = /decode_errors=(\d+)/.exec(statsLine)?.[1];
  check(simDecodeErrors === "0", `the simulator counted decode errors: ${statsLine}`);
  const violations = /pacing_violations=(\d+)/.exec(statsLine)?.[1];
  check(violations === "0", `the simulator counted pacing violations: ${statsLine}`);
  check(decodeErrors.length === 0, "the library reported decode errors");
  check(unexpected.length === 0, "unexpected errors were reported");
  if (finished) return;
  finished = true;
  console.log(`${statsLine}`);
  console.log("zero decode errors reported by the library");
  console.log("PASS: @stoqey/ib conformance");
  process.exit(0);
}

let stopping = false;
const overall = setTimeout(() => fail(`not done after ${TOTAL_TIMEOUT_MS} ms`), TOTAL_TIMEOUT_MS);
overall.unref?.();
run().catch((e) => fail(e?.stack ?? String(e)));
