"""The task-board example's flow, as two users in two `websockets` clients: joining a board,
adding tasks (with the title rule the schema states), assigning one so that the assignee,
who is also on the board, hears of it once, an unknown task, an HTTP announcement, and a
refused token. Run by tests/tests/task_board.rs; exits non-zero with a message on the
first surprise.

Usage: python3 task_board.py http://127.0.0.1:PORT
"""

import json
import sys
import urllib.request
import uuid

from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect


def fail(what, detail):
    sys.exit(f"{what}: {detail}")


def expect(condition, what, detail):
    if not condition:
        fail(what, detail)


class User:
    def __init__(self, base, token):
        self.ws = connect(f"{base}/ws/", subprotocols=["access-token", token],
                          open_timeout=10, close_timeout=5)

    def send(self, action, payload):
        req_id = str(uuid.uuid4())
        self.ws.send(json.dumps({"msg_id": str(uuid.uuid4()), "req_id": req_id,
                                 "action": action, "payload": payload}))
        return req_id

    def recv(self):
        return json.loads(self.ws.recv(timeout=10))

    def request(self, action, payload):
        req_id = self.send(action, payload)
        frame = self.recv()
        expect(frame.get("req_id") == req_id, f"the answer to {action}", frame)
        return frame

    def nothing_pending(self):
        """A health round trip: a frame still queued before its reply would come first."""
        frame = self.request("health", {})
        expect(frame.get("event") == "health", "no further frame was pending", frame)


def main(http_base):
    ws_base = "ws" + http_base[len("http"):]
    try:
        connect(f"{ws_base}/ws/", subprotocols=["access-token", "mallory-token"], open_timeout=10)
        fail("an unknown token", "was admitted")
    except InvalidStatus as refused:
        expect(refused.response.status_code == 401, "an unknown token gets 401", refused.response.status_code)

    alice, bob = User(ws_base, "alice-token"), User(ws_base, "bob-token")
    for user in (alice, bob):
        joined = user.request("board.join", {"board": "planning"})
        expect((joined["event"], joined["payload"]) == ("board.joined", {"board": "planning"}),
               "board.joined", joined)

    for title in ("", "x" * 101):
        problem = alice.request("task.add", {"board": "planning", "title": title})
        expect((problem.get("status"), problem.get("code")) == (422, "invalid_action_payload"),
               "a title outside 1-100 characters", problem)
        expect("'title'" in problem["detail"], "the problem names the field", problem)

    added = alice.request("task.add", {"board": "planning", "title": "Write the docs"})
    expect(added["event"] == "task.added" and added["recipient"] == "group", "task.added to the board", added)
    task = added["payload"]
    expect((task["board"], task["title"], task["by"]) == ("planning", "Write the docs", "alice"), "the task", task)
    seen_by_bob = bob.recv()
    expect(seen_by_bob["payload"] == task, "bob sees the task", seen_by_bob)

    # alice is the assignee and on the board: one event for her, one for bob.
    assigned = bob.request("task.assign", {"board": "planning", "task_id": task["task_id"], "user": "alice"})
    expected = {"board": "planning", "task_id": task["task_id"], "user": "alice", "by": "bob"}
    expect(assigned["event"] == "task.assigned" and assigned["payload"] == expected, "bob's copy", assigned)
    for_alice = alice.recv()
    expect(for_alice["payload"] == expected and for_alice["recipient"] == "user", "alice's copy", for_alice)
    alice.nothing_pending()
    bob.nothing_pending()

    unknown = bob.request("task.assign", {"board": "planning", "task_id": str(uuid.uuid4()), "user": "alice"})
    expect((unknown.get("status"), unknown.get("code")) == (404, "unknown_task"), "an unknown task", unknown)

    request = urllib.request.Request(f"{http_base}/boards/planning/announce", method="POST",
                                     data=json.dumps({"text": "standup at ten"}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        answer = json.loads(response.read())
    expect(answer == {"delivered": 2}, "the announcement reached both", answer)
    for user in (alice, bob):
        announcement = user.recv()
        expect(announcement["payload"] == {"board": "planning", "text": "standup at ten"}, "announcement",
               announcement)

    with urllib.request.urlopen(f"{http_base}/schema/asyncapi.json", timeout=10) as response:
        asyncapi = json.loads(response.read())
    operations = asyncapi["operations"]
    for action, event in (("board.join", "board.joined"), ("task.add", "task.added"),
                          ("task.assign", "task.assigned")):
        operation = operations.get(f"action.{action}")
        expect(operation is not None, f"an operation for {action}", list(operations))
        replies = [message["$ref"].rsplit("/", 1)[1] for message in operation["reply"]["messages"]]
        expect(replies == [f"event.{event}", "problem"], f"what {action} replies with", replies)
    expect(operations["action.task.assign"]["x-beeflow-problems"] == ["unknown_task"],
           "task.assign's own problem", operations["action.task.assign"])

    alice.ws.close()
    bob.ws.close()
    print("task board flow ok")


if __name__ == "__main__":
    main(sys.argv[1])
