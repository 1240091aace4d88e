// @beeflow/client: a typed client for beeflow WebSocket servers (protocol version 2).

export {
  Client,
  V2_PROTOCOL,
  matches,
  type Anomaly,
  type ClientOptions,
  type PresenceUpdate,
  type ReconnectOptions,
  type State,
  type SubscribeOptions,
  type Subscription,
  type WebSocketClass,
} from "./client.js";
export {
  ProblemError,
  RequestError,
  type AnyApi,
  type Api,
  type DoneFrame,
  type EventFrame,
  type Position,
  type ProblemFrame,
} from "./frames.js";
export { applyPatch, type Operation, type SyncedState } from "./sync.js";
