#!/usr/bin/env python3
"""A misbehaving MCP stdio server for adk::mcp's bad-input tests.

Usage: fake_server.py MODE
It answers initialize (and notifications) like a real server, then, per MODE:
  garbage        answers every request with a line that is not JSON
  exit_mid_call  answers tools/list, then exits (code 3) on tools/call after a stderr line
  silent         never answers anything after initialize
  silent_init    never answers initialize
  huge_line      answers tools/call with one 10 MB line
  bad_version    answers initialize with protocol version 1999-01-01
  string_ids     on tools/call first sends its own request with a string id
                 (a ping) and answers the call once the client replied to it
  echo           a well-behaved server with the tools `echo` and `add_tool` (which
                 adds a tool `extra` and sends notifications/tools/list_changed)
  exit_once FILE exits in the middle of the first tools/call it ever gets (FILE
                 marks that it happened), then behaves as `echo`
"""
import os
import json
import sys

mode = sys.argv[1] if len(sys.argv) > 1 else "echo"


def send(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def result(id_, value):
    send({"jsonrpc": "2.0", "id": id_, "result": value})


TOOLS = [{"name": "echo", "description": "Echoes its message",
          "inputSchema": {"type": "object", "properties": {"message": {"type": "string"}},
                          "required": ["message"]}},
         {"name": "add_tool", "description": "Adds the tool `extra`",
          "inputSchema": {"type": "object", "properties": {}}}]

if mode == "exit_once":
    marker = sys.argv[2]
    mode = "echo" if os.path.exists(marker) else "exit_once"
pending_call = None
for line in sys.stdin:
    line = line.strip()
    if not line:
        continue
    msg = json.loads(line)
    method = msg.get("method")
    id_ = msg.get("id")
    if method is None:
        # A response to our own request.
        if mode == "string_ids" and id_ == "srv-1" and pending_call is not None:
            ok = "result" in msg
            result(pending_call, {"content": [{"type": "text", "text": "client answered srv-1: %s" % ok}]})
            pending_call = None
        continue
    if id_ is None:
        continue  # a notification
    if method == "initialize":
        if mode == "silent_init":
            continue
        version = "1999-01-01" if mode == "bad_version" else msg["params"]["protocolVersion"]
        result(id_, {"protocolVersion": version, "capabilities": {"tools": {"listChanged": True}},
                     "serverInfo": {"name": "fake-" + mode, "version": "0"}})
        continue
    if mode == "silent":
        continue
    if mode == "garbage":
        sys.stdout.write("this is not JSON at all\n")
        sys.stdout.flush()
        continue
    if method == "ping":
        result(id_, {})
    elif method == "tools/list":
        result(id_, {"tools": TOOLS})
    elif method == "tools/call":
        if mode == "exit_once":
            open(marker, "w").close()
        if mode in ("exit_mid_call", "exit_once"):
            sys.stderr.write("fake server: dying in the middle of a call\n")
            sys.stderr.flush()
            sys.exit(3)
        if mode == "huge_line":
            sys.stdout.write('{"jsonrpc":"2.0","id":%s,"result":{"content":[{"type":"text","text":"' % json.dumps(id_))
            sys.stdout.write("x" * (10 * 1024 * 1024))
            sys.stdout.write('"}]}}\n')
            sys.stdout.flush()
            continue
        if mode == "string_ids":
            pending_call = id_
            send({"jsonrpc": "2.0", "id": "srv-1", "method": "ping"})
            continue
        if msg["params"].get("name") == "add_tool":
            TOOLS.append({"name": "extra", "description": "Added later",
                          "inputSchema": {"type": "object", "properties": {}}})
            send({"jsonrpc": "2.0", "method": "notifications/tools/list_changed"})
            result(id_, {"content": [{"type": "text", "text": "added"}]})
            continue
        text = msg["params"].get("arguments", {}).get("message", "")
        result(id_, {"content": [{"type": "text", "text": "Echo: " + text}]})
    else:
        send({"jsonrpc": "2.0", "id": id_, "error": {"code": -32601, "message": "Method not found"}})
