// A small typed client as a front-end team would write it, on the types openapi-typescript
// generates from openapi/openapi.json. It compiles under `tsc --strict` only while the contract
// stays precise: required response fields (no `!`, no `?.` needed), a request's required fields,
// the error reasons as a union and `details` told apart by `@type`.
import type { components } from "../build/api.js";

type Schemas = components["schemas"];
export type Session = Schemas["portal.identity.v1.Session"];
export type Invoice = Schemas["portal.billing.v1.Invoice"];
export type Product = Schemas["portal.commerce.v1.Product"];
export type Order = Schemas["portal.commerce.v1.Order"];
export type Case = Schemas["portal.support.v1.Case"];
export type ErrorReason = Schemas["portal.ErrorReason"];
type Status = Schemas["google.rpc.Status"];
type Detail = Status["details"][number];

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: Status,
    readonly retryAfter: number | null,
  ) {
    super(body.message);
  }

  get reason(): ErrorReason | null {
    const info = this.body.details.find(isErrorInfo);
    return info ? info.reason : null;
  }

  /** The JSON paths of the fields the server refused, e.g. `items[0].quantity`. */
  get fields(): string[] {
    return this.body.details.flatMap((d: Detail) =>
      d["@type"] === "type.googleapis.com/google.rpc.BadRequest"
        ? d.fieldViolations.map((v) => v.field)
        : [],
    );
  }
}

function isErrorInfo(d: Detail): d is Schemas["google.rpc.ErrorInfo"] {
  return d["@type"] === "type.googleapis.com/google.rpc.ErrorInfo";
}

export class Portal {
  private token = "";

  constructor(private readonly base: string) {}

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { "Content-Type": "application/json" };
    if (this.token) headers["Authorization"] = `Bearer ${this.token}`;
    const init: RequestInit = { method, headers };
    if (body !== undefined) init.body = JSON.stringify(body);
    const response = await fetch(this.base + path, init);
    const json: unknown = await response.json();
    if (!response.ok) {
      const retry = response.headers.get("Retry-After");
      throw new ApiError(response.status, json as Status, retry === null ? null : Number(retry));
    }
    return json as T;
  }

  async signIn(email: string, password: string): Promise<Session> {
    const request: Schemas["portal.identity.v1.LoginRequest"] = { email, password };
    const answer = await this.call<Schemas["portal.identity.v1.LoginResponse"]>(
      "POST", "/v1/auth/login", request);
    this.token = answer.session.accessToken;
    return answer.session;
  }

  async invoices(): Promise<Invoice[]> {
    type List = Schemas["portal.billing.v1.ListInvoicesResponse"];
    return (await this.call<List>("GET", "/v1/invoices?pageSize=5")).invoices;
  }

  async invoice(id: string): Promise<Invoice> {
    type One = Schemas["portal.billing.v1.GetInvoiceResponse"];
    return (await this.call<One>("GET", `/v1/invoices/${encodeURIComponent(id)}`)).invoice;
  }

  async products(): Promise<Product[]> {
    type List = Schemas["portal.commerce.v1.ListProductsResponse"];
    return (await this.call<List>("GET", "/v1/catalog/products")).products;
  }

  async order(productId: string, requestId: string): Promise<Order> {
    const request: Schemas["portal.commerce.v1.CreateOrderRequest"] = {
      requestId,
      items: [{ productId, quantity: 1 }],
    };
    type One = Schemas["portal.commerce.v1.CreateOrderResponse"];
    return (await this.call<One>("POST", "/v1/orders", request)).order;
  }

  async openCase(subject: string): Promise<Case> {
    const request: Schemas["portal.support.v1.CreateCaseRequest"] = { subject };
    type One = Schemas["portal.support.v1.CreateCaseResponse"];
    return (await this.call<One>("POST", "/v1/cases", request)).case;
  }

  /** A refused order, to show how a form maps errors back to its fields. */
  async badOrder(): Promise<ApiError> {
    try {
      await this.call("POST", "/v1/orders", { requestId: "", items: [] });
    } catch (error) {
      if (error instanceof ApiError) return error;
      throw error;
    }
    throw new Error("an empty order was accepted");
  }
}

/** What a page shows; every field read without `!` or `?.`. */
export function summary(invoice: Invoice): string {
  const paid = invoice.paidAt ? ` paid ${invoice.paidAt}` : "";
  return `${invoice.number} ${invoice.status} ${invoice.total} ${invoice.currencyCode}${paid}`;
}

export function describe(error: ApiError): string {
  switch (error.reason) {
    case "VALIDATION_FAILED":
      return `check ${error.fields.join(", ")}`;
    case "RATE_LIMITED":
    case "UPSTREAM_UNAVAILABLE":
      return `try again in ${error.retryAfter ?? 1} s`;
    case null:
      return error.message;
    default:
      return `${error.reason}: ${error.message}`;
  }
}
