#!/usr/bin/env node
// A fake tarsnode and tarsnotify on @tars/rpc: serves tars.ServerF (keepAlive, keepActiving,
// reportVersion) as tars.tarsnode.ServerObj and tars.Notify (reportNotifyInfo) as
// tars.tarsnotify.NotifyObj, each on a free port, and records every call.
//
// Usage: node fake_tarsnode.js
// Prints "node PORT" and "notify PORT", then one JSON line per call received:
//   {"obj":"node","func":"keepAlive","app":..,"server":..,"pid":..,"adapter":..,"ms":..}
//   {"obj":"node","func":"reportVersion","app":..,"server":..,"version":..,"ms":..}
//   {"obj":"notify","func":"reportNotifyInfo","type":0,"app":..,"server":..,"message":..,"ms":..}
// Runs until stdin closes (the test's end) or 120 s pass.
"use strict";

var Tars = require("@tars/rpc");
var TarsError = Tars.error;
var TarsStream = require("@tars/stream");

var HOST = "127.0.0.1";

function record(o) {
    o.ms = Date.now();
    process.stdout.write(JSON.stringify(o) + "\n");
}

// Answers an int return value 0 (dropped by the framework for one-way calls).
function answerInt(current) {
    var os = new TarsStream.TarsOutputStream();
    os.writeInt32(0, 0);
    current.doResponse(os.getBinBuffer());
}

// struct ServerInfo { 0 require string application; 1 require string serverName;
//                     2 require int pid; 3 optional string adapter; };
var ServerInfo = function () {};
ServerInfo._readFrom = function (is) {
    return {
        application: is.readString(0, true, ""),
        serverName: is.readString(1, true, ""),
        pid: is.readInt32(2, true, 0),
        adapter: is.readString(3, false, "")
    };
};

var NodeImp = function () {};
NodeImp.prototype.initialize = function () {};
NodeImp.prototype.onDispatch = function (current, funcName, binBuffer) {
    var is = new TarsStream.TarsInputStream(binBuffer);
    if (funcName === "keepAlive" || funcName === "keepActiving") {
        var si = is.readStruct(1, true, ServerInfo);
        record({ obj: "node", func: funcName, app: si.application, server: si.serverName,
                 pid: si.pid, adapter: si.adapter, oneway: current.getRequest().cPacketType === 1 });
        answerInt(current);
        return TarsError.SUCCESS;
    }
    if (funcName === "reportVersion") {
        record({ obj: "node", func: funcName, app: is.readString(1, true, ""),
                 server: is.readString(2, true, ""), version: is.readString(3, true, ""),
                 oneway: current.getRequest().cPacketType === 1 });
        answerInt(current);
        return TarsError.SUCCESS;
    }
    return TarsError.SERVER.FUNC_NOT_FOUND;
};

// struct ReportInfo { 1 require ReportType eType; 2 require string sApp; 3 require string sSet;
//   4 require string sContainer; 5 require string sServer; 6 require string sMessage;
//   7 optional string sThreadId; 8 optional NOTIFYLEVEL eLevel; 9 optional string sNodeName; };
var ReportInfo = function () {};
ReportInfo._readFrom = function (is) {
    return {
        type: is.readInt32(1, true, 0),
        app: is.readString(2, true, ""),
        set: is.readString(3, true, ""),
        container: is.readString(4, true, ""),
        server: is.readString(5, true, ""),
        message: is.readString(6, true, ""),
        threadId: is.readString(7, false, ""),
        level: is.readInt32(8, false, 0),
        nodeName: is.readString(9, false, "")
    };
};

var NotifyImp = function () {};
NotifyImp.prototype.initialize = function () {};
NotifyImp.prototype.onDispatch = function (current, funcName, binBuffer) {
    if (funcName !== "reportNotifyInfo") return TarsError.SERVER.FUNC_NOT_FOUND;
    var info = new TarsStream.TarsInputStream(binBuffer).readStruct(1, true, ReportInfo);
    info.obj = "notify";
    info.func = funcName;
    info.oneway = current.getRequest().cPacketType === 1;
    record(info);
    current.doResponse(new TarsStream.BinBuffer());
    return TarsError.SUCCESS;
};

function serve(Imp, servant, label) {
    var svr = Tars.server.createServer(Imp);
    svr.start({ name: servant + "Adapter", servant: servant,
                endpoint: "tcp -h " + HOST + " -p 0", protocol: "tars", maxconns: 1024 });
    // @tars/rpc reports no bound port: read it off its net.Server (see hello_server.js).
    var listener = svr._server._adapters[0]._netthread._listener;
    return new Promise(function (resolve) {
        var done = function () { resolve(label + " " + listener.address().port); };
        if (listener.listening) done(); else listener.once("listening", done);
    });
}

Promise.all([serve(NodeImp, "tars.tarsnode.ServerObj", "node"),
             serve(NotifyImp, "tars.tarsnotify.NotifyObj", "notify")]).then(function (lines) {
    process.stdout.write(lines.join("\n") + "\n");
});
process.stdin.on("end", function () { process.exit(0); });
process.stdin.resume();
setTimeout(function () { process.exit(0); }, 120000);
