// The client: one WebSocket speaking protocol version 2, reconnected with backoff, its
// requests correlated by `req_id` and ended by their completion, its subscriptions put
// back (and recovered) after every reconnect.

import {
  type AnyApi,
  type Api,
  type EventFrame,
  type Position,
  type ProblemFrame,
  ProblemError,
  RequestError,
  isDone,
  isEvent,
  isProblem,
  uuid,
} from "./frames.js";
import { type SyncHost, type SyncedState, followState } from "./sync.js";

/** The subprotocol that asks for protocol version 2. */
export const V2_PROTOCOL = "beeflow.v2";

/** A `WebSocket` class: the global one of browsers and Node 22+, or one passed in. */
export type WebSocketClass = new (url: string, protocols?: string | string[]) => WebSocket;

/** How long to wait before reconnecting: full jitter between 0 and a bound that doubles. */
export interface ReconnectOptions {
  /** The first bound, in ms (default 500). */
  minDelayMs?: number;
  /** The largest bound, in ms (default 20,000). */
  maxDelayMs?: number;
}

export interface ClientOptions {
  /** `ws://…/ws/` or `wss://…/ws/`. */
  url: string;
  /** The token offered in the handshake, or a function giving it, called before every connect. */
  token?: string | (() => string | Promise<string>);
  /** Backoff bounds, or `false` not to reconnect. */
  reconnect?: ReconnectOptions | false;
  /** How long a request may wait for its completion (default 10,000 ms). */
  requestTimeoutMs?: number;
  /** The `WebSocket` class to use (default: the global one). */
  WebSocket?: WebSocketClass;
}

/** Where the connection is. */
export type State = "connecting" | "open" | "reconnecting" | "closed";

/** Something the server sent, or did not send, that no request or subscription owns. */
export type Anomaly =
  | { kind: "problem"; problem: ProblemError }
  | { kind: "seq-gap"; expected: number; received: number }
  | { kind: "stream-gap"; stream: string; expected: number; received: number }
  | { kind: "new-epoch"; stream: string; epoch: string }
  | { kind: "recovery-failed"; topic: string };

/** What presence says about a subscribed group (§6.5). */
export type PresenceUpdate =
  | { kind: "snapshot"; members: { user: string; connections: number }[]; guests: number }
  | { kind: "join"; user: string }
  | { kind: "leave"; user: string };

export interface SubscribeOptions<A extends Api> {
  /** Also watch who is in the group (exact topics only). */
  presence?: boolean;
  /** Every event to a group the topic matches. */
  onEvent?: (frame: EventFrame<keyof A["events"] & string, A["events"][keyof A["events"]]>) => void;
  onPresence?: (update: PresenceUpdate) => void;
  /** After every re-subscription: whether what was missed meanwhile was all replayed. */
  onRecovery?: (recovered: boolean) => void;
}

/** A subscription the client keeps in place across reconnects. */
export interface Subscription {
  readonly topic: string;
  /** The last position seen on its stream (exact topics). */
  readonly position: Position | undefined;
  unsubscribe(): Promise<void>;
}

interface Pending {
  events: EventFrame[];
  resolve: (frames: EventFrame[]) => void;
  reject: (error: Error) => void;
  timer: ReturnType<typeof setTimeout>;
  onEvent?: (frame: EventFrame) => void;
  onDone?: (recovered: boolean | undefined) => void;
}

interface SubscriptionState<A extends Api> extends Subscription {
  position: Position | undefined;
  options: SubscribeOptions<A>;
  /** Subscribed once: put back after every reconnect from then on. */
  established: boolean;
}

const PRESENCE_EVENTS = new Set(["beeflow.presence", "beeflow.join", "beeflow.leave"]);
/** How many positioned events' ids are kept to drop repeats: more than one recovery replays. */
const RECENT_IDS = 1024;

export class Client<A extends Api = AnyApi> {
  readonly #options: ClientOptions;
  readonly #WebSocket: WebSocketClass;
  #socket: WebSocket | undefined;
  #state: State = "connecting";
  #closed = false;
  #attempt = 0;
  #lastSeq = 0;
  #ready: { promise: Promise<void>; resolve: () => void; reject: (error: Error) => void };
  readonly #pending = new Map<string, Pending>();
  readonly #listeners = new Map<string, Set<(payload: any, frame: EventFrame) => void>>();
  readonly #stateListeners = new Set<(state: State) => void>();
  readonly #anomalyListeners = new Set<(anomaly: Anomaly) => void>();
  readonly #subscriptions = new Map<string, SubscriptionState<A>>();
  /** The last position seen per stream (`group:<name>`, `user:<id>`). */
  readonly #streams = new Map<string, Position>();
  /** The ids of the latest positioned events, to drop one sent again (§6.4). */
  readonly #recent = new Set<string>();

  constructor(options: ClientOptions) {
    this.#options = options;
    const WebSocketClass = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketClass }).WebSocket;
    if (!WebSocketClass) {
      throw new Error("no WebSocket class: pass one as `WebSocket` (Node 20 needs --experimental-websocket)");
    }
    this.#WebSocket = WebSocketClass;
    this.#ready = deferred();
    void this.#connect();
  }

  /** Resolves once the connection is open in version 2; rejects if it cannot be. */
  connected(): Promise<void> {
    return this.#ready.promise;
  }

  /** The connection's state now. */
  get state(): State {
    return this.#state;
  }

  /** Calls `listener` on every change of state; returns what stops it. */
  onState(listener: (state: State) => void): () => void {
    this.#stateListeners.add(listener);
    return () => this.#stateListeners.delete(listener);
  }

  /** Calls `listener` with what no request owns: Problems without `req_id`, gaps, new epochs. */
  onAnomaly(listener: (anomaly: Anomaly) => void): () => void {
    this.#anomalyListeners.add(listener);
    return () => this.#anomalyListeners.delete(listener);
  }

  /** Sends `action` and resolves at its completion with the events it brought this connection. */
  async request<K extends keyof A["actions"] & string>(action: K, payload: A["actions"][K]): Promise<EventFrame[]> {
    return this.#send(action, payload);
  }

  /** Sends `action` and yields its events as they arrive, ending at its completion. */
  stream<K extends keyof A["actions"] & string>(action: K, payload: A["actions"][K]): AsyncIterable<EventFrame> {
    const queue: EventFrame[] = [];
    let wake: (() => void) | undefined;
    let finished = false;
    let failure: Error | undefined;
    this.#send(action, payload, {
      onEvent: (frame) => {
        queue.push(frame);
        wake?.();
      },
    }).then(
      () => {
        finished = true;
        wake?.();
      },
      (error: Error) => {
        failure = error;
        finished = true;
        wake?.();
      },
    );
    return {
      async *[Symbol.asyncIterator]() {
        for (;;) {
          const next = queue.shift();
          if (next) {
            yield next;
            continue;
          }
          if (failure) throw failure;
          if (finished) return;
          await new Promise<void>((resolve) => (wake = resolve));
          wake = undefined;
        }
      },
    };
  }

  /** Calls `handler` with every event named `event`; returns what stops it. */
  on<K extends keyof A["events"] & string>(
    event: K,
    handler: (payload: A["events"][K], frame: EventFrame<K, A["events"][K]>) => void,
  ): () => void {
    let handlers = this.#listeners.get(event);
    if (!handlers) {
      handlers = new Set();
      this.#listeners.set(event, handlers);
    }
    const added = handler as (payload: any, frame: EventFrame) => void;
    handlers.add(added);
    return () => handlers.delete(added);
  }

  /**
   * Follows the server's synced state under `key` (§6.6): a snapshot first, then its
   * patches in version order; a missing version, or a reconnect recovery did not fill,
   * fetches a snapshot again. Its events reach the client only through what the state is
   * addressed to (subscribe to its group first).
   */
  sync<S = unknown>(key: string): SyncedState<S> {
    return followState<S>(this as unknown as SyncHost, key);
  }

  /**
   * Subscribes to `topic` (a group, or a pattern such as `orders.*`) and keeps the
   * subscription after every reconnect, asking the server for what was missed meanwhile.
   */
  async subscribe(topic: string, options: SubscribeOptions<A> = {}): Promise<Subscription> {
    const state: SubscriptionState<A> = {
      topic,
      position: undefined,
      options,
      established: false,
      unsubscribe: async () => {
        this.#subscriptions.delete(topic);
        await this.#send("beeflow.unsubscribe", { topic });
      },
    };
    this.#subscriptions.set(topic, state);
    try {
      await this.#subscribeOnce(state);
      state.established = true;
    } catch (error) {
      this.#subscriptions.delete(topic);
      throw error;
    }
    return state;
  }

  /** Closes the connection for good: pending requests fail, nothing reconnects. */
  close(): void {
    this.#closed = true;
    this.#socket?.close(1000);
    this.#fail(new RequestError("the client was closed"));
    this.#setState("closed");
    this.#ready.reject(new Error("the client was closed"));
  }

  async #subscribeOnce(state: SubscriptionState<A>): Promise<void> {
    const payload: Record<string, unknown> = { topic: state.topic };
    if (state.options.presence) payload.presence = true;
    const position = state.position ?? this.#streams.get(`group:${state.topic}`);
    if (position) payload.since = position;
    await this.#send("beeflow.subscribe", payload, {
      onDone: (recovered) => {
        if (recovered === undefined) return;
        state.options.onRecovery?.(recovered);
        if (!recovered) this.#anomaly({ kind: "recovery-failed", topic: state.topic });
      },
    });
  }

  async #send(
    action: string,
    payload: unknown,
    hooks: Pick<Pending, "onEvent" | "onDone"> = {},
  ): Promise<EventFrame[]> {
    const timeoutMs = this.#options.requestTimeoutMs ?? 10_000;
    const deadline = Date.now() + timeoutMs;
    await withTimeout(this.connected(), timeoutMs, `'${action}' could not be sent: not connected`);
    const socket = this.#socket;
    if (!socket || socket.readyState !== 1) {
      throw new RequestError(`'${action}' could not be sent: not connected`);
    }
    const reqId = uuid();
    return new Promise<EventFrame[]>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(reqId);
        reject(new RequestError(`'${action}' got no completion within ${timeoutMs} ms`));
      }, Math.max(0, deadline - Date.now()));
      this.#pending.set(reqId, { events: [], resolve, reject, timer, ...hooks });
      socket.send(JSON.stringify({ msg_id: uuid(), req_id: reqId, action, payload }));
    });
  }

  async #connect(): Promise<void> {
    if (this.#closed) return;
    this.#setState(this.#attempt === 0 ? "connecting" : "reconnecting");
    let token: string | undefined;
    try {
      token = typeof this.#options.token === "function" ? await this.#options.token() : this.#options.token;
    } catch (error) {
      this.#connectionFailed(new Error(`the token function failed: ${String(error)}`), true);
      return;
    }
    const protocols = token === undefined ? [V2_PROTOCOL] : [V2_PROTOCOL, "access-token", token];
    const socket = new this.#WebSocket(this.#options.url, protocols);
    this.#socket = socket;
    let opened = false;
    let refusal: Error | undefined;
    onRefusal(socket, (error) => {
      refusal = error;
      socket.close();
    });
    socket.onopen = () => {
      opened = true;
      if (socket.protocol !== V2_PROTOCOL) {
        this.#closed = true;
        socket.close(1000);
        this.#connectionFailed(new Error("the server speaks protocol version 1 only; this client needs version 2"), false);
        return;
      }
      this.#attempt = 0;
      this.#lastSeq = 0;
      for (const subscription of this.#subscriptions.values()) {
        if (!subscription.established) continue;
        this.#subscribeOnce(subscription).catch((error: Error) =>
          this.#anomaly({ kind: "problem", problem: asProblem(error, subscription.topic) }),
        );
      }
      // Told after the subscriptions went back out: what a listener sends now is handled
      // after their replays (requests are handled in arrival order).
      this.#setState("open");
      this.#ready.resolve();
    };
    socket.onmessage = (message: MessageEvent) => {
      if (typeof message.data === "string") this.#receive(message.data);
    };
    const ended = () => {
      if (this.#socket !== socket) return;
      this.#socket = undefined;
      this.#fail(new RequestError("the connection closed before the request completed"));
      if (!opened) {
        if (refusal instanceof ProblemError) this.#anomaly({ kind: "problem", problem: refusal });
        this.#connectionFailed(
          refusal ?? new Error("the server refused the WebSocket handshake, or could not be reached"),
          true,
        );
      } else {
        this.#ready = deferred();
        this.#scheduleReconnect();
      }
    };
    socket.onclose = ended;
    // Some implementations (Node 20's) report a refused handshake with an error and no close.
    socket.onerror = () => {
      if (!opened) ended();
    };
  }

  #connectionFailed(error: Error, retry: boolean): void {
    if (retry && !this.#closed && this.#options.reconnect !== false) {
      this.#scheduleReconnect();
      return;
    }
    this.#closed = true;
    this.#setState("closed");
    this.#ready.reject(error);
  }

  #scheduleReconnect(): void {
    if (this.#closed) return;
    if (this.#options.reconnect === false) {
      this.#closed = true;
      this.#setState("closed");
      this.#ready.reject(new Error("the connection closed and reconnecting is off"));
      return;
    }
    const min = this.#options.reconnect?.minDelayMs ?? 500;
    const max = this.#options.reconnect?.maxDelayMs ?? 20_000;
    const bound = Math.min(max, min * 2 ** this.#attempt);
    this.#attempt += 1;
    this.#setState("reconnecting");
    setTimeout(() => void this.#connect(), Math.random() * bound);
  }

  #receive(text: string): void {
    let frame: Record<string, unknown>;
    try {
      frame = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return;
    }
    if (isEvent(frame)) {
      this.#event(frame as unknown as EventFrame);
    } else if (isDone(frame)) {
      const pending = this.#pending.get(frame.req_id);
      if (!pending) return;
      this.#pending.delete(frame.req_id);
      clearTimeout(pending.timer);
      pending.onDone?.(frame.done.recovered);
      pending.resolve(pending.events);
    } else if (isProblem(frame)) {
      const problem = new ProblemError(frame as ProblemFrame);
      const pending = typeof frame.req_id === "string" ? this.#pending.get(frame.req_id) : undefined;
      if (!pending) {
        this.#anomaly({ kind: "problem", problem });
        return;
      }
      this.#pending.delete(frame.req_id as string);
      clearTimeout(pending.timer);
      pending.reject(problem);
    }
  }

  #event(frame: EventFrame): void {
    if (frame.seq !== this.#lastSeq + 1) {
      this.#anomaly({ kind: "seq-gap", expected: this.#lastSeq + 1, received: frame.seq });
    }
    this.#lastSeq = frame.seq;
    if (this.#seenBefore(frame)) return;
    this.#position(frame);
    if (frame.req_id !== undefined) {
      const pending = this.#pending.get(frame.req_id);
      if (pending) {
        pending.events.push(frame);
        pending.onEvent?.(frame);
      }
    }
    if (frame.recipient === "group") {
      for (const subscription of this.#subscriptions.values()) {
        if (!matches(subscription.topic, frame.recipient_id)) continue;
        if (PRESENCE_EVENTS.has(frame.event)) {
          subscription.options.onPresence?.(presenceUpdate(frame));
        } else {
          if (frame.offset !== undefined && frame.epoch !== undefined && subscription.topic === frame.recipient_id) {
            subscription.position = { epoch: frame.epoch, offset: frame.offset };
          }
          subscription.options.onEvent?.(frame as never);
        }
      }
    } else if (frame.event === "beeflow.presence") {
      const topic = (frame.payload as { topic?: string }).topic;
      const subscription = topic === undefined ? undefined : this.#subscriptions.get(topic);
      subscription?.options.onPresence?.(presenceUpdate(frame));
    }
    for (const handler of this.#listeners.get(frame.event) ?? []) {
      handler(frame.payload, frame);
    }
  }

  /**
   * Whether this event was delivered already: an emit to several streams reaches a
   * connection once, but recovering another of those streams may send it again, with the
   * same `msg_id`.
   */
  #seenBefore(frame: EventFrame): boolean {
    if (frame.offset === undefined) return false;
    if (this.#recent.has(frame.msg_id)) return true;
    this.#recent.add(frame.msg_id);
    if (this.#recent.size > RECENT_IDS) {
      this.#recent.delete(this.#recent.values().next().value as string);
    }
    return false;
  }

  /** Notes the event's stream position, telling of a gap or a new epoch. */
  #position(frame: EventFrame): void {
    if (frame.offset === undefined || frame.epoch === undefined) return;
    const stream = `${frame.recipient}:${frame.recipient_id}`;
    const last = this.#streams.get(stream);
    if (last && last.epoch !== frame.epoch) {
      this.#anomaly({ kind: "new-epoch", stream, epoch: frame.epoch });
    } else if (last && frame.offset > last.offset + 1) {
      this.#anomaly({ kind: "stream-gap", stream, expected: last.offset + 1, received: frame.offset });
    } else if (last && frame.offset <= last.offset) {
      return; // Already seen (a replay after a multi-recipient emit).
    }
    this.#streams.set(stream, { epoch: frame.epoch, offset: frame.offset });
  }

  #fail(error: Error): void {
    for (const [reqId, pending] of this.#pending) {
      this.#pending.delete(reqId);
      clearTimeout(pending.timer);
      pending.reject(error);
    }
  }

  #setState(state: State): void {
    if (this.#state === state) return;
    this.#state = state;
    for (const listener of this.#stateListeners) listener(state);
  }

  #anomaly(anomaly: Anomaly): void {
    for (const listener of this.#anomalyListeners) listener(anomaly);
  }
}

/** The parts of a Node `http.IncomingMessage` a refusal needs. */
interface HttpResponse extends AsyncIterable<Uint8Array> {
  statusCode?: number;
  headers: Record<string, string | string[] | undefined>;
}

/**
 * Calls `refused` with the server's Problem (or its HTTP status) when the handshake is
 * refused, where the `WebSocket` implementation tells the response: the `ws` package's
 * `unexpected-response` does; browsers' and Node's built-in `WebSocket` never do.
 */
function onRefusal(socket: WebSocket, refused: (error: Error) => void): void {
  const emitter = socket as unknown as { once?: (event: string, listener: (...args: any[]) => void) => void };
  if (typeof emitter.once !== "function") return;
  emitter.once("unexpected-response", (_request: unknown, response: HttpResponse) => {
    const status = response.statusCode ?? 0;
    const plain = new Error(`the server refused the WebSocket handshake with HTTP ${status}`);
    readProblem(response).then(
      (problem) => refused(problem ?? plain),
      () => refused(plain),
    );
  });
}

async function readProblem(response: HttpResponse): Promise<ProblemError | undefined> {
  const type = String(response.headers["content-type"] ?? "");
  let body = "";
  const decoder = new TextDecoder();
  for await (const chunk of response) body += decoder.decode(chunk, { stream: true });
  if (!type.includes("json")) return undefined;
  const frame = JSON.parse(body) as Record<string, unknown>;
  return isProblem(frame) ? new ProblemError(frame) : undefined;
}

/** Whether `topic` (exact, or with `*` and `>` tokens, §6.3) matches group `group`. */
export function matches(topic: string, group: string): boolean {
  const pattern = topic.split(".");
  const tokens = group.split(".");
  for (let i = 0; i < pattern.length; i++) {
    if (pattern[i] === ">") return tokens.length > i;
    if (i >= tokens.length) return false;
    if (pattern[i] !== "*" && pattern[i] !== tokens[i]) return false;
  }
  return pattern.length === tokens.length;
}

function presenceUpdate(frame: EventFrame): PresenceUpdate {
  const payload = frame.payload as {
    user?: string;
    members?: { user: string; connections: number }[];
    guests?: number;
  };
  if (frame.event === "beeflow.join") return { kind: "join", user: payload.user ?? "" };
  if (frame.event === "beeflow.leave") return { kind: "leave", user: payload.user ?? "" };
  return { kind: "snapshot", members: payload.members ?? [], guests: payload.guests ?? 0 };
}

function asProblem(error: Error, topic: string): ProblemError {
  if (error instanceof ProblemError) return error;
  return new ProblemError({
    type: "about:blank",
    title: "Subscription not put back",
    status: 0,
    code: "resubscribe_failed",
    detail: `'${topic}': ${error.message}`,
  });
}

function deferred(): { promise: Promise<void>; resolve: () => void; reject: (error: Error) => void } {
  let resolve!: () => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<void>((yes, no) => {
    resolve = yes;
    reject = no;
  });
  // A rejection nobody awaits yet is not an unhandled one: `connected()` reports it.
  promise.catch(() => {});
  return { promise, resolve, reject };
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new RequestError(message)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
