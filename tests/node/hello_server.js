#!/usr/bin/env node
// Tars.js (@tars/rpc) server for servant Test.HelloServer.HelloObj, interface Hello (see test_types.js).
//
// Usage: node hello_server.js [--port P]      (default 0 = any free port)
// Prints exactly "listening tcp -h 127.0.0.1 -p PORT" once it accepts calls, then serves until killed.
// Answers TARS (iVersion 1) and TUP (iVersion 3) requests, like a tars2node-generated servant.
"use strict";

var Tars = require("@tars/rpc");
var TarsError = Tars.error;
var types = require("./test_types.js");
var TarsStream = types.TarsStream;
var Test = types.Test;

var SERVANT = "Test.HelloServer.HelloObj";
var HOST = "127.0.0.1";

// ---------------------------------------------------------------------------------------------
// Servant skeleton, shaped like tars2node's server output: onDispatch calls this["__" + funcName],
// each __<op> decodes the in params (TARS: by tag; TUP: by name), installs current.sendResponse
// (the generated $RE encoder) and calls the user method.
Test.HelloImp = function () {
    this._name = undefined;
    this._worker = undefined;
};
Test.HelloImp.prototype.initialize = function () {};
Test.HelloImp.prototype.onDispatch = function (current, funcName, binBuffer) {
    if ("__" + funcName in this) {
        return this["__" + funcName](current, binBuffer);
    } else {
        return TarsError.SERVER.FUNC_NOT_FOUND; // the framework answers iRet -3
    }
};

function isTup(current) {
    var v = current.getRequestVersion();
    return v === TarsStream.Tup.TUP_SIMPLE || v === TarsStream.Tup.TUP_COMPLEX;
}

// tars_ping, as tars2node generates it: returns int32 0 at tag 0 (TUP: key "").
Test.HelloImp.prototype.__tars_ping = function (current) {
    if (isTup(current)) {
        var tup = new TarsStream.UniAttribute();
        tup.tupVersion = current.getRequestVersion();
        tup.writeInt32("", 0);
        current.doResponse(tup.encode());
    } else {
        var os = new TarsStream.TarsOutputStream();
        os.writeInt32(0, 0);
        current.doResponse(os.getBinBuffer());
    }
    return TarsError.SUCCESS;
};

// Build __<op> for one operation of Test.HelloIF.
function makeDispatcher(op) {
    var ret = op.ret === "void" ? null : types.parseType(op.ret);
    var args = op.args.map(function (a, i) {
        return { name: a[0], d: types.parseType(a[1]), out: a[2] === "out", tag: i + 1 };
    });
    var outs = args.filter(function (a) { return a.out; });

    // $RE: current.sendResponse(_ret, out1, out2, ...)
    var respond = function () {
        var current = this, values = arguments;
        if (!ret && outs.length === 0) { // void, no out params: empty sBuffer
            current.doResponse(new TarsStream.BinBuffer());
            return;
        }
        if (isTup(current)) {
            var tup = new TarsStream.UniAttribute();
            tup.tupVersion = current.getRequestVersion();
            if (ret) types.tupWrite(tup, ret, "", values[0]); // Tars.js writes the return under "" only
            outs.forEach(function (a, i) { types.tupWrite(tup, a.d, a.name, values[i + (ret ? 1 : 0)]); });
            current.doResponse(tup.encode());
        } else {
            var os = new TarsStream.TarsOutputStream();
            if (ret) types.writeField(os, ret, 0, values[0]);
            outs.forEach(function (a, i) { types.writeField(os, a.d, a.tag, values[i + (ret ? 1 : 0)]); });
            current.doResponse(os.getBinBuffer());
        }
    };

    return function (current, binBuffer) {
        var params = [];
        if (isTup(current)) {
            var tup = new TarsStream.UniAttribute();
            tup.tupVersion = current.getRequestVersion();
            tup.decode(binBuffer);
            // in params are required; out params fall back to their default
            args.forEach(function (a) { params.push(types.tupRead(tup, a.d, a.name, a.out ? a.d.make() : undefined)); });
        } else {
            var is = new TarsStream.TarsInputStream(binBuffer);
            // in params are required, out params optional (a C++ sync client sends them too)
            args.forEach(function (a) { params.push(types.readField(is, a.d, a.tag, !a.out)); });
        }
        current.sendResponse = respond;
        this[op.name].apply(this, [current].concat(params));
        return TarsError.SUCCESS;
    };
}
Test.HelloIF.forEach(function (op) {
    Test.HelloImp.prototype["__" + op.name] = makeDispatcher(op);
});

// ---------------------------------------------------------------------------------------------
// The implementation.
var lastMsg = "";

Test.HelloImp.prototype.sayHello = function (current, name) {
    current.sendResponse(0, "hello " + name);
};
Test.HelloImp.prototype.add = function (current, a, b) {
    current.sendResponse(0, (a + b) | 0); // wrapping i32 addition
};
Test.HelloImp.prototype.echoBytes = function (current, data) {
    current.sendResponse(0, data);
};
Test.HelloImp.prototype.echoStruct = function (current, p) {
    current.sendResponse(0, p);
};
Test.HelloImp.prototype.echoAll = function (current, v) {
    current.sendResponse(0, v);
};
Test.HelloImp.prototype.slow = function (current, ms) {
    setTimeout(function () { current.sendResponse(0, ms); }, ms);
};
Test.HelloImp.prototype.notify = function (current, msg) {
    lastMsg = msg;
    current.sendResponse(); // dropped by the framework when the call was one-way
};
Test.HelloImp.prototype.lastNotify = function (current) {
    current.sendResponse(0, lastMsg);
};

// ---------------------------------------------------------------------------------------------
function main() {
    var port = 0;
    var i = process.argv.indexOf("--port");
    if (i !== -1) port = parseInt(process.argv[i + 1], 10);
    if (!(port >= 0 && port <= 65535)) {
        process.stderr.write("usage: node hello_server.js [--port P]\n");
        process.exit(2);
    }

    var svr = Tars.server.createServer(Test.HelloImp);
    // No "-t": Tars.js uses the endpoint's -t as the idle timeout of accepted connections.
    svr.start({
        name: SERVANT + "Adapter",
        servant: SERVANT,
        endpoint: "tcp -h " + HOST + " -p " + port,
        protocol: "tars",
        maxconns: 1024
    });

    // @tars/rpc has no API that reports the bound port (needed for port 0), so look at the
    // net.Server it created: SimpleServer -> HeroServer -> BindAdapter -> NetThread -> listener.
    var listener = svr._server._adapters[0]._netthread._listener;
    listener.on("error", function (e) {
        process.stderr.write("hello_server: " + e.message + "\n");
        process.exit(1);
    });
    var announce = function () {
        process.stdout.write("listening tcp -h " + HOST + " -p " + listener.address().port + "\n");
    };
    if (listener.listening) announce(); else listener.once("listening", announce);
}

main();
