#!/usr/bin/env node
// A fake tarslog on @tars/rpc: serves tars.Log (LogF) as tars.tarslog.LogObj and prints what
// it gets. The LogInfo struct is written here by hand from LogF.tars on @tars/stream.
//
// Usage: node fake_log.js   (a free port)
// Prints "log PORT". Then reads one JSON command a line on stdin:
//   {"stall":true}    take calls but answer none (a stuck tarslog) until {"stall":false},
//                     which answers the held ones
// and answers each with "ack N" (N counts commands). Each call is printed as a JSON line
// (also while stalled):
//   {"func":"loggerbyInfo","info":{..LogInfo..},"lines":[..],"packetType":N}
//   {"func":"logger","app":..,"server":..,"file":..,"format":..,"lines":[..],"packetType":N}
// Runs until stdin closes or 120 s pass.
"use strict";

var Tars = require("@tars/rpc");
var TarsError = Tars.error;
var TarsStream = require("@tars/stream");

var host = require("./fake_host.js");
var stalled = false;
var held = [];

// struct LogInfo (LogF.tars): only read here.
var LogInfo = function () {};
LogInfo._readFrom = function (is) {
    var i = new LogInfo();
    i.appname = is.readString(0, true, "");
    i.servername = is.readString(1, true, "");
    i.sFilename = is.readString(2, true, "");
    i.sFormat = is.readString(3, true, "");
    i.setdivision = is.readString(4, false, "");
    i.bHasSufix = is.readBoolean(5, false, true);
    i.bHasAppNamePrefix = is.readBoolean(6, false, true);
    i.bHasSquareBracket = is.readBoolean(7, false, false);
    i.sConcatStr = is.readString(8, false, "_");
    i.sSepar = is.readString(9, false, "|");
    i.sLogType = is.readString(10, false, "");
    return i;
};

function answer(current) {
    current.doResponse(new TarsStream.TarsOutputStream().getBinBuffer());
}

var LogImp = function () {};
LogImp.prototype.initialize = function () {};
LogImp.prototype.onDispatch = function (current, funcName, binBuffer) {
    var is = new TarsStream.TarsInputStream(binBuffer);
    var Lines = TarsStream.List(TarsStream.String);
    var line = { func: funcName, packetType: current.getRequest().cPacketType };
    if (funcName === "loggerbyInfo") {
        // void loggerbyInfo(LogInfo info, vector<string> buffer)
        var info = is.readStruct(1, true, LogInfo);
        line.info = {};
        Object.keys(info).forEach(function (k) { line.info[k] = info[k]; });
        line.lines = is.readList(2, true, Lines).toObject();
    } else if (funcName === "logger") {
        // void logger(string app, string server, string file, string format, vector<string> buffer)
        line.app = is.readString(1, true, "");
        line.server = is.readString(2, true, "");
        line.file = is.readString(3, true, "");
        line.format = is.readString(4, true, "");
        line.lines = is.readList(5, true, Lines).toObject();
    } else {
        return TarsError.SERVER.FUNC_NOT_FOUND;
    }
    process.stdout.write(JSON.stringify(line) + "\n");
    if (stalled) held.push(current); else answer(current);
    return TarsError.SUCCESS;
};

host.serve(LogImp, "tars.tarslog.LogObj", "log", 0);

host.commands(function (cmd) {
    if (cmd.stall !== undefined) {
        stalled = cmd.stall;
        if (!stalled) { held.forEach(answer); held = []; }
    }
});
