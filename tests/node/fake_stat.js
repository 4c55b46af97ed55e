#!/usr/bin/env node
// A fake tarsstat and tarsproperty on @tars/rpc: serves tars.StatF as tars.tarsstat.StatObj
// and tars.PropertyF as tars.tarsproperty.PropertyObj, decoding each report with the
// StatF/PropertyF types that @tars/monitor ships.
//
// Usage: node fake_stat.js   (free ports)
// Prints "stat PORT" and "property PORT", then one JSON line per report:
//   {"func":"reportMicMsg","packetType":N,"bFromClient":B,"entries":[{"head":{..},"body":{..}},..]}
//   {"func":"reportPropMsg","packetType":N,"entries":[{"head":{..},"body":{"vInfo":[..]}},..]}
// Runs until stdin closes or 120 s pass.
"use strict";

var Tars = require("@tars/rpc");
var TarsError = Tars.error;
var TarsStream = require("@tars/stream");
var StatF = require("@tars/monitor/stat/StatFProxy.js").tars;
var PropertyF = require("@tars/monitor/property/PropertyFProxy.js").tars;

var host = require("./fake_host.js");

function entries(map) {
    var out = [];
    map.forEach(function (head, body) {
        out.push({ head: head.toObject(), body: body.toObject() });
    });
    return out;
}

function servant(handle) {
    var Imp = function () {};
    Imp.prototype.initialize = function () {};
    Imp.prototype.onDispatch = function (current, funcName, binBuffer) {
        var is = new TarsStream.TarsInputStream(binBuffer);
        var line = handle(funcName, is);
        if (!line) return TarsError.SERVER.FUNC_NOT_FOUND;
        line.packetType = current.getRequest().cPacketType;
        process.stdout.write(JSON.stringify(line) + "\n");
        var os = new TarsStream.TarsOutputStream();
        os.writeInt32(0, 0);
        current.doResponse(os.getBinBuffer()); // nothing is sent back for a one-way call
        return TarsError.SUCCESS;
    };
    return Imp;
}

var StatImp = servant(function (funcName, is) {
    if (funcName !== "reportMicMsg") return null;
    var map = is.readMap(1, true, TarsStream.Map(StatF.StatMicMsgHead, StatF.StatMicMsgBody));
    return { func: funcName, bFromClient: is.readBoolean(2, true, false), entries: entries(map) };
});

var PropImp = servant(function (funcName, is) {
    if (funcName !== "reportPropMsg") return null;
    var map = is.readMap(1, true, TarsStream.Map(PropertyF.StatPropMsgHead, PropertyF.StatPropMsgBody));
    return { func: funcName, entries: entries(map) };
});

host.serve(StatImp, "tars.tarsstat.StatObj", "stat", 0);
host.serve(PropImp, "tars.tarsproperty.PropertyObj", "property", 0);
host.commands();
