#!/usr/bin/env node
// A Tars.js (@tars/rpc) client of a server's AdminObj (interface tars.AdminF), as tarsnode and
// the web console call it.
//
// Usage:
//   node admin_client.js ADMIN_OBJ notify COMMAND   prints {"ret":..,"result":"..."} (JSON)
//   node admin_client.js ADMIN_OBJ getPid           prints {"pid":N}
//   node admin_client.js ADMIN_OBJ shutdown [--oneway]   prints "ok shutdown sent"
//   node admin_client.js ADMIN_OBJ inflight HELLO_OBJ N MS
//        after one call Hello.slow(0) on HELLO_OBJ (to connect), starts N calls Hello.slow(MS),
//        sends a one-way shutdown at once, and prints "ok inflight N" when every call got its answer (else FAIL ...)
// ADMIN_OBJ is "AdminObj@tcp -h H -p P". Exit 0 on success, 1 on failure, 3 after 30 s.
"use strict";

var Tars = require("@tars/rpc");
var TarsStream = require("@tars/stream");

var Prx = function () { this._name = undefined; this._worker = undefined; };

function fail(msg) {
    console.log("FAIL " + msg);
    process.exit(1);
}
function describe(e) {
    var rpc = e && e.response && e.response.error;
    if (rpc) return "rpc error code " + rpc.code + " (" + rpc.message + ")";
    return String((e && e.message) || e);
}
// One-way calls resolve or reject ("one way") once sent: both mean sent.
function sentOneway(p) {
    return p.then(function () {}, function (e) {
        var detail = e && (e.error || (e.response && e.response.error));
        if (!/one way/i.test(describe(e) + " " + JSON.stringify(detail || {}))) throw e;
    });
}

var argv = process.argv.slice(2);
var comm = Tars.Communicator.New();
var admin = comm.stringToProxy(Prx, argv[0]);
admin._worker.timeout = 5000;
setTimeout(function () { console.log("FAIL global_timeout"); process.exit(3); }, 30000);

var op = argv[1];
if (op === "notify") {
    var os = new TarsStream.TarsOutputStream();
    os.writeString(1, argv[2] || "");
    admin._worker.tars_invoke("notify", os.getBinBuffer(), {}).then(function (data) {
        var is = new TarsStream.TarsInputStream(data.response.sBuffer);
        console.log(JSON.stringify({ ret: data.response.iRet, result: is.readString(0, true, "") }));
        process.exit(0);
    }, function (e) { fail("notify: " + describe(e)); });
} else if (op === "getPid") {
    admin._worker.tars_invoke("getPid", new TarsStream.TarsOutputStream().getBinBuffer(), {})
        .then(function (data) {
            var is = new TarsStream.TarsInputStream(data.response.sBuffer);
            console.log(JSON.stringify({ pid: Number(is.readInt64(0, true, 0)) }));
            process.exit(0);
        }, function (e) { fail("getPid: " + describe(e)); });
} else if (op === "shutdown") {
    var oneway = argv.indexOf("--oneway") !== -1;
    var call = admin._worker.tars_invoke("shutdown", new TarsStream.TarsOutputStream().getBinBuffer(),
                                         oneway ? { packetType: 1 } : {});
    (oneway ? sentOneway(call) : call).then(function () {
        console.log("ok shutdown sent");
        // Give the one-way frame time to leave before the process ends.
        setTimeout(function () { process.exit(0); }, 200);
    }, function (e) { fail("shutdown: " + describe(e)); });
} else if (op === "inflight") {
    var hello = comm.stringToProxy(Prx, argv[2]);
    hello._worker.timeout = 10000;
    var n = parseInt(argv[3], 10), ms = parseInt(argv[4], 10);
    var slow = function (wait) {
        var os2 = new TarsStream.TarsOutputStream();
        os2.writeInt32(1, wait);
        return hello._worker.tars_invoke("slow", os2.getBinBuffer(), {}).then(function (data) {
            var is = new TarsStream.TarsInputStream(data.response.sBuffer);
            var waited = is.readInt32(2, true, 0);
            if (waited !== wait) throw new Error("slow answered " + waited);
        });
    };
    // Connected first (a server shutting down answers requests on its open connections).
    slow(0).then(function () {
        var calls = [];
        for (var i = 0; i < n; i++) calls.push(slow(ms));
        sentOneway(admin._worker.tars_invoke("shutdown",
            new TarsStream.TarsOutputStream().getBinBuffer(), { packetType: 1 }))
            .catch(function (e) { fail("shutdown: " + describe(e)); });
        return Promise.all(calls);
    }).then(function () {
        console.log("ok inflight " + n);
        process.exit(0);
    }, function (e) { fail("inflight: " + describe(e)); });
} else {
    console.log("usage: node admin_client.js ADMIN_OBJ notify CMD | getPid | shutdown [--oneway] | inflight HELLO_OBJ N MS");
    process.exit(2);
}
