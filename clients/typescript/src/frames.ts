// The frames of the beeflow wire protocol, version 2 (docs/protocol.md in the repository).

/** What a server is typed as: its actions' payloads and its events' payloads, by name. */
export interface Api {
  // `object`, not `Record<string, unknown>`: generated interfaces have no index signature.
  actions: object;
  events: object;
}

/** An API nothing is known about: any action, any event, any payload. */
export interface AnyApi extends Api {
  actions: Record<string, any>;
  events: Record<string, any>;
}

/** A stream position (§6.4): the offset of an event in its user's or group's stream. */
export interface Position {
  epoch: string;
  offset: number;
}

/** An event as the server sends it (§2). */
export interface EventFrame<Name extends string = string, Payload = unknown> {
  msg_id: string;
  /** The request that emitted it; absent for events emitted outside a request. */
  req_id?: string;
  /** 1, 2, 3, … per connection, without gaps. */
  seq: number;
  event: Name;
  recipient: string;
  recipient_id: string;
  /** Its position, for events to a user or a group. */
  offset?: number;
  epoch?: string;
  payload: Payload;
}

/** An RFC 9457 Problem as the server sends it (§3), on the socket or over HTTP. */
export interface ProblemFrame {
  msg_id?: string;
  req_id?: string;
  type: string;
  title: string;
  status: number;
  detail?: string;
  code: string;
  instance?: string;
}

/** The completion that ends a request (§6.2). */
export interface DoneFrame {
  msg_id: string;
  req_id: string;
  done: { events: number; recovered?: boolean };
}

/** A request's failure, as the server described it. */
export class ProblemError extends Error {
  readonly code: string;
  readonly status: number;
  readonly title: string;
  readonly detail: string | undefined;
  readonly type: string;
  readonly reqId: string | undefined;

  constructor(problem: ProblemFrame) {
    super(`${problem.title} (${problem.code}, ${problem.status})${problem.detail ? `: ${problem.detail}` : ""}`);
    this.name = "ProblemError";
    this.code = problem.code;
    this.status = problem.status;
    this.title = problem.title;
    this.detail = problem.detail;
    this.type = problem.type;
    this.reqId = problem.req_id;
  }
}

/** A request that got no completion in time, or whose connection closed first. */
export class RequestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RequestError";
  }
}

export function isEvent(frame: Record<string, unknown>): frame is EventFrame & Record<string, unknown> {
  return typeof frame.event === "string" && typeof frame.seq === "number";
}

export function isDone(frame: Record<string, unknown>): frame is DoneFrame & Record<string, unknown> {
  return typeof frame.done === "object" && frame.done !== null && typeof frame.req_id === "string";
}

export function isProblem(frame: Record<string, unknown>): frame is ProblemFrame & Record<string, unknown> {
  return typeof frame.code === "string" && typeof frame.status === "number" && typeof frame.title === "string";
}

/** A fresh random UUID v4, from the platform's crypto (browsers and Node 20+). */
export function uuid(): string {
  return globalThis.crypto.randomUUID();
}
