#!/usr/bin/env node
// A fake tarsregistry on @tars/rpc: serves tars.QueryF as tars.tarsregistry.QueryObj
// (findObjectById, findObjectById4All, findObjectById4Any, findObjectByIdInSameGroup,
// findObjectByIdInSameSet), with EndpointF from @tars/registry, answering from a table the
// test changes on stdin.
//
// Usage: node fake_registry.js [PORT]   (0 or nothing: a free port)
// Prints "registry PORT". Then reads one JSON command a line on stdin:
//   {"set":"App.Server.Obj","active":[PORT,...],"inactive":[PORT,...]}  (hosts 127.0.0.1)
//   {"fail":true|false}   answer every lookup with return code -1 (a broken registry)
// and answers each with "ack N" (N counts commands). Each lookup is printed as a JSON line:
//   {"func":..,"id":..,"setId":..,"active":[..],"inactive":[..]}
// Runs until stdin closes or 120 s pass.
"use strict";

var Tars = require("@tars/rpc");
var TarsError = Tars.error;
var TarsStream = require("@tars/stream");
var EndpointF = require("@tars/registry/EndpointFTars.js").tars.EndpointF;

var host = require("./fake_host.js");
var HOST = "127.0.0.1";
var table = {};
var failing = false;

function endpoints(ports) {
    var list = TarsStream.List(EndpointF);
    (ports || []).forEach(function (port) {
        var ep = new EndpointF();
        ep.host = HOST;
        ep.port = port;
        ep.timeout = 60000;
        ep.istcp = 1;
        list.push(ep);
    });
    return list;
}

var QueryImp = function () {};
QueryImp.prototype.initialize = function () {};
QueryImp.prototype.onDispatch = function (current, funcName, binBuffer) {
    var is = new TarsStream.TarsInputStream(binBuffer);
    var id = is.readString(1, true, "");
    var entry = table[id] || { active: [], inactive: [] };
    var os = new TarsStream.TarsOutputStream();
    var line = { func: funcName, id: id, active: entry.active, inactive: entry.inactive };
    if (funcName === "findObjectById") {
        os.writeList(0, endpoints(entry.active));
    } else if (funcName === "findObjectById4All" || funcName === "findObjectById4Any" ||
               funcName === "findObjectByIdInSameGroup") {
        // int f(string id, out vector<EndpointF> activeEp, out vector<EndpointF> inactiveEp)
        os.writeInt32(0, failing ? -1 : 0);
        os.writeList(2, endpoints(failing ? [] : entry.active));
        os.writeList(3, endpoints(failing ? [] : entry.inactive));
    } else if (funcName === "findObjectByIdInSameSet") {
        // int f(string id, string setId, out activeEp (3), out inactiveEp (4))
        line.setId = is.readString(2, true, "");
        os.writeInt32(0, failing ? -1 : 0);
        os.writeList(3, endpoints(failing ? [] : entry.active));
        os.writeList(4, endpoints(failing ? [] : entry.inactive));
    } else {
        return TarsError.SERVER.FUNC_NOT_FOUND;
    }
    line.failing = failing;
    process.stdout.write(JSON.stringify(line) + "\n");
    current.doResponse(os.getBinBuffer());
    return TarsError.SUCCESS;
};

var port = parseInt(process.argv[2] || "0", 10);
host.serve(QueryImp, "tars.tarsregistry.QueryObj", "registry", port);

host.commands(function (cmd) {
    if (cmd.set) table[cmd.set] = { active: cmd.active || [], inactive: cmd.inactive || [] };
    if (cmd.fail !== undefined) failing = cmd.fail;
});
