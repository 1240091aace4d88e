import { Client } from "../../src/index.js";
import type { Api } from "./api.js";

export async function right(client: Client<Api>): Promise<number> {
  const [frame] = await client.request("echo", { text: "hi" });
  client.on("countdown", (payload) => payload.remaining.toFixed());
  return frame?.seq ?? 0;
}
