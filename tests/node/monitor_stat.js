#!/usr/bin/env node
// What @tars/monitor's stat encoder (the Tars.js caller's report) makes of known calls.
//
// Usage: node monitor_stat.js '{"headers":{...},"calls":[["success",MS],["timeout",MS],["error",MS]]}'
// headers are @tars/monitor's (masterName, slaveName, interfaceName, masterIp, slaveIp,
// slavePort, bFromClient). Feeds each call to require("@tars/monitor").stat.report, encodes
// the result as reportMicMsg's map (tag 1) with @tars/stream, decodes it again and prints
//   {"entries":[{"head":{..},"body":{..}}]}
"use strict";

var TarsStream = require("@tars/stream");
var monitor = require("@tars/monitor");
var StatF = require("@tars/monitor/stat/StatFProxy.js").tars;

var input = JSON.parse(process.argv[2]);
var obj;
input.calls.forEach(function (call) {
    obj = monitor.stat.report(input.headers, call[0], call[1]);
});
monitor.stat.stop();

var map = new TarsStream.Map(StatF.StatMicMsgHead, StatF.StatMicMsgBody);
map.put(obj._StatMicMsgHead, obj._StatMicMsgBody);
var os = new TarsStream.TarsOutputStream();
os.writeMap(1, map);
var is = new TarsStream.TarsInputStream(os.getBinBuffer());
var back = is.readMap(1, true, TarsStream.Map(StatF.StatMicMsgHead, StatF.StatMicMsgBody));
var entries = [];
back.forEach(function (head, body) {
    entries.push({ head: head.toObject(), body: body.toObject() });
});
process.stdout.write(JSON.stringify({ entries: entries }) + "\n");
process.exit(0);
