// Runs the typed client against a gateway: node build/js/src/run.js <gateway> <email> <password>.
// Prints one JSON object with what it saw, for the e2e test to check.
import { ApiError, Portal, describe, summary } from "./client.js";

// The one Node global used here (no @types/node: the check is about the API's types).
declare const process: { argv: string[] };

const [base, email, password] = process.argv.slice(2);
if (!base || !email || !password) throw new Error("usage: run.js <gateway> <email> <password>");
const portal = new Portal(base);
const session = await portal.signIn(email, password);
const invoices = await portal.invoices();
const first = invoices[0];
const detail = first ? await portal.invoice(first.id) : null;
const products = await portal.products();
const vpn = products.find((p) => p.sku === "VPN-STANDARD");
if (!vpn) throw new Error("no VPN-STANDARD product");
const order = await portal.order(vpn.id, `ts-${Date.now()}`);
const opened = await portal.openCase("Typed client check");
const refused = await portal.badOrder();
let notFound: ApiError | null = null;
try {
  await portal.invoice("999999999");
} catch (error) {
  if (!(error instanceof ApiError)) throw error;
  notFound = error;
}
console.log(JSON.stringify({
  expires: session.accessTokenExpiresAt,
  invoices: invoices.map(summary),
  detailItems: detail ? detail.items.length : null,
  listedItems: first ? first.items.length : null,
  order: { id: order.id, status: order.status, items: order.items.length },
  case: { number: opened.caseNumber, status: opened.status },
  refused: { status: refused.status, reason: refused.reason, fields: refused.fields,
             text: describe(refused) },
  notFound: notFound ? { status: notFound.status, reason: notFound.reason } : null,
}));
