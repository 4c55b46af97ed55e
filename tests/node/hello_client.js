#!/usr/bin/env node
// Tars.js (@tars/rpc) client for servant Test.HelloServer.HelloObj, interface Hello (see test_types.js).
//
// Usage: node hello_client.js "Test.HelloServer.HelloObj@tcp -h 127.0.0.1 -p PORT" [--tup] [--only m1,m2]
//   --tup   talk TUP (iVersion 3, UniAttribute params keyed by name) instead of TARS (iVersion 1)
//   --only  run only the checks of these methods (sayHello, add, echoBytes, echoStruct, echoAll,
//           slow, notify, lastNotify, noSuchFunc); slow.head_of_line (slow + add) counts as "slow"
// Prints one line per check, "ok NAME" or "FAIL NAME: why". Exit 0 only if every check passed;
// 1 if some check failed; 2 if the server cannot be reached; 3 on the global 30 s timeout.
"use strict";

var net = require("net");
var Tars = require("@tars/rpc");
var TarsError = Tars.error;
var types = require("./test_types.js");
var TarsStream = types.TarsStream;
var Test = types.Test;

var CALL_TIMEOUT_MS = 3000;
var GLOBAL_TIMEOUT_MS = 30000;

// ---------------------------------------------------------------------------------------------
// Proxy, shaped like tars2node's client output: each method encodes its in params ($IE: by tag into
// a TarsOutputStream; $PE: by name into a UniAttribute), calls tars_invoke / tup_invoke with the
// last argument as the call property, and decodes ret + out params ($ID: by tag; $PD: by name,
// return value under the key "").
Test.HelloProxy = function () {
    this._name = undefined;
    this._worker = undefined;
};
Test.HelloProxy.prototype.setTimeout = function (iTimeout) { this._worker.timeout = iTimeout; };
Test.HelloProxy.prototype.getTimeout = function () { return this._worker.timeout; };
Test.HelloProxy.prototype.setVersion = function (iVersion) { this._worker.version = iVersion; };
Test.HelloProxy.prototype.getVersion = function () { return this._worker.version; };

function makeError(data, message, code) {
    var error = new Error(message || "");
    error.request = data.request;
    error.response = { costtime: data.request && data.request.costtime };
    error.response.error = code === undefined ? data.error : { code: code, message: message };
    return error;
}

function makeProxyMethod(op) {
    var IF = { name: op.name, "return": op.ret, "arguments": op.args.map(function (a) {
        return { name: a[0], "class": a[1], direction: a[2] };
    }) };
    var ret = op.ret === "void" ? null : types.parseType(op.ret);
    var args = op.args.map(function (a, i) {
        return { name: a[0], d: types.parseType(a[1]), out: a[2] === "out", tag: i + 1 };
    });
    var ins = args.filter(function (a) { return !a.out; });
    var outs = args.filter(function (a) { return a.out; });

    var IE = function (values) {
        var os = new TarsStream.TarsOutputStream();
        ins.forEach(function (a, i) { types.writeField(os, a.d, a.tag, values[i]); });
        return os.getBinBuffer();
    };
    var ID = function (data) {
        try {
            var is = new TarsStream.TarsInputStream(data.response.sBuffer);
            var response = { costtime: data.request.costtime, arguments: {} };
            if (ret) response["return"] = types.readField(is, ret, 0, true);
            outs.forEach(function (a) { response.arguments[a.name] = types.readField(is, a.d, a.tag, true); });
            return { request: data.request, response: response };
        } catch (e) {
            throw makeError(data, e.message, TarsError.CLIENT.DECODE_ERROR);
        }
    };
    var PE = function (values, version) {
        var tup = new TarsStream.UniAttribute();
        tup.tupVersion = version;
        ins.forEach(function (a, i) { types.tupWrite(tup, a.d, a.name, values[i]); });
        return tup;
    };
    var PD = function (data) {
        try {
            var tup = data.response.tup;
            var response = { costtime: data.request.costtime, arguments: {} };
            if (ret) response["return"] = types.tupRead(tup, ret, "", ret.make());
            outs.forEach(function (a) { response.arguments[a.name] = types.tupRead(tup, a.d, a.name, undefined); });
            return { request: data.request, response: response };
        } catch (e) {
            throw makeError(data, e.message, TarsError.CLIENT.DECODE_ERROR);
        }
    };
    var ER = function (data) {
        throw makeError(data, "Call Hello::" + op.name + " failed");
    };

    return function () {
        var values = Array.prototype.slice.call(arguments, 0, ins.length);
        var property = arguments[arguments.length - 1]; // as generated: the last argument, whatever it is
        var version = this._worker.version;
        if (version === TarsStream.Tup.TUP_SIMPLE || version === TarsStream.Tup.TUP_COMPLEX) {
            return this._worker.tup_invoke(op.name, PE(values, version), property, IF).then(PD, ER);
        }
        return this._worker.tars_invoke(op.name, IE(values), property, IF).then(ID, ER);
    };
}
Test.HelloIF.forEach(function (op) {
    Test.HelloProxy.prototype[op.name] = makeProxyMethod(op);
});

// ---------------------------------------------------------------------------------------------
// Check helpers.
var results = { ok: 0, fail: 0 };
function report(name, err) {
    if (err) {
        results.fail++;
        console.log("FAIL " + name + ": " + err);
    } else {
        results.ok++;
        console.log("ok " + name);
    }
}
function describe(e) {
    var rpc = e && e.response && e.response.error;
    if (rpc) return "rpc error code " + rpc.code + " (" + rpc.message + ")";
    return String((e && e.message) || e);
}
function short(v) {
    var s = JSON.stringify(v);
    return s && s.length > 200 ? s.slice(0, 200) + "..." : s;
}
// Run fn() -> promise of the proxy result; check(result) returns an error string or null.
function check(name, fn, verify) {
    return Promise.resolve().then(fn).then(function (r) {
        var why = verify(r.response);
        report(name, why);
    }, function (e) {
        report(name, describe(e));
    });
}
function expectRet0(rsp) {
    return rsp["return"] === 0 ? null : "return " + rsp["return"] + ", want 0";
}
function expectOut(rsp, name, want, toJson) {
    var why = expectRet0(rsp);
    if (why) return why;
    var got = toJson ? toJson(rsp.arguments[name]) : rsp.arguments[name];
    if (JSON.stringify(got) !== JSON.stringify(want)) return name + " = " + short(got) + ", want " + short(want);
    return null;
}

// ---------------------------------------------------------------------------------------------
// Test data.
var PERSON_FULL = {
    name: "Ann", age: 42, tags: ["x", "", "héllo"],
    scores: [["max", "9223372036854775807"], ["min", "-9223372036854775808"], ["zero", "0"],
             ["minus_one", "-1"], ["two_pow_32", "4294967296"], ["i32_min_minus_1", "-2147483649"]]
};
var PERSON_EMPTY = { name: "", age: 0, tags: [], scores: [] };
var ALL_FULL = {
    b: true, i8v: -128, i16v: -32768, i32v: -2147483648, i64v: "-9223372036854775808",
    f32v: -1.5, f64v: 3.141592653589793, s: "héllo 世界", bin: "00ff7f80",
    ints: [0, 1, -1, 300, 70000, 2147483647, -2147483648], dict: [["a", "x"], ["k", "héllo"]],
    people: [PERSON_FULL, PERSON_EMPTY], u32v: "4294967295", color: Test.Color.BLUE,
    byId: [[1, PERSON_FULL], [7, { name: "seven", age: 7 }]], farTag: "far tag 200"
};
function allBytes(n) {
    var b = Buffer.alloc(n);
    for (var i = 0; i < n; i++) b[i] = i % 256;
    return b;
}
var PERSON = "struct:Test.Person", ALL = "struct:Test.AllTypes";
function toJ(t) { var d = types.parseType(t); return function (v) { return d.fromTars(v); }; }
function fromJ(t, j) { return types.parseType(t).toTars(j); }

// Each check: [method, name, function(proxy) -> promise]. Checks run one after another.
function buildChecks(proxy, tup) {
    var C = [];
    function hello(name, arg, want) {
        C.push(["sayHello", "sayHello." + name, function () {
            return check("sayHello." + name, function () { return proxy.sayHello(arg); },
                function (r) { return expectOut(r, "greeting", want); });
        }]);
    }
    hello("empty", "", "hello ");
    hello("world", "world", "hello world");
    hello("long300", "y".repeat(300), "hello " + "y".repeat(300));
    hello("utf8", "héllo 世界", "hello héllo 世界");

    function add(name, a, b, want) {
        C.push(["add", "add." + name, function () {
            return check("add." + name, function () { return proxy.add(a, b); },
                function (r) { return expectOut(r, "sum", want); });
        }]);
    }
    add("1+2", 1, 2, 3);
    add("0+0", 0, 0, 0);
    add("-5+3", -5, 3, -2);
    add("wrap_max", 2147483647, 1, -2147483648);
    add("wrap_min", -2147483648, -1, 2147483647);

    function echoBytes(name, buf) {
        C.push(["echoBytes", "echoBytes." + name, function () {
            return check("echoBytes." + name, function () { return proxy.echoBytes(new TarsStream.BinBuffer(buf)); },
                function (r) { return expectOut(r, "back", buf.toString("hex"), toJ("bytes")); });
        }]);
    }
    echoBytes("empty", Buffer.alloc(0));
    echoBytes("3", Buffer.from([1, 2, 3]));
    echoBytes("1000", allBytes(1000));

    function echo(method, type, name, json) {
        C.push([method, method + "." + name, function () {
            var sent = fromJ(type, json);
            var want = toJ(type)(sent); // the JSON form with every field filled in
            return check(method + "." + name, function () { return proxy[method](sent); },
                function (r) { return expectOut(r, "back", want, toJ(type)); });
        }]);
    }
    echo("echoStruct", PERSON, "full", PERSON_FULL);
    echo("echoStruct", PERSON, "empty_optionals", { name: "only required", age: -7 });
    echo("echoAll", ALL, "full", ALL_FULL);
    echo("echoAll", ALL, "defaults", {});

    C.push(["slow", "slow.50", function () {
        return check("slow.50", function () { return proxy.slow(50); },
            function (r) { return expectOut(r, "waited", 50); });
    }]);
    // Head-of-line: a fast call on the same connection must not wait behind a slow one.
    C.push(["slow", "slow.head_of_line", function () {
        var t0 = Date.now();
        var slowCall = proxy.slow(1000);
        return Promise.all([proxy.add(1, 2).then(function (r) { return { r: r, ms: Date.now() - t0 }; }), slowCall])
            .then(function (res) {
                var fast = res[0], slowRsp = res[1].response;
                var why = expectOut(fast.r.response, "sum", 3) || expectOut(slowRsp, "waited", 1000);
                if (!why && fast.ms >= 500) why = "add took " + fast.ms + " ms behind slow(1000)";
                report("slow.head_of_line", why);
            }, function (e) { report("slow.head_of_line", describe(e)); });
    }]);

    // notify one-way (cPacketType 1): Tars.js rejects the promise right after sending, with
    // "one way call do not need response"; then lastNotify must return the message.
    function notifyThenLast(name, msg, property, oneway) {
        C.push(["notify", "notify." + name, function () {
            return Promise.resolve().then(function () { return proxy.notify(msg, property); })
                .then(function () {
                    if (oneway) throw new Error("one-way call unexpectedly got a response");
                }, function (e) {
                    var rpc = e && e.response && e.response.error;
                    if (!(oneway && rpc && /one way/.test(rpc.message))) throw e;
                })
                .then(function () { return proxy.lastNotify(); })
                .then(function (r) { report("notify." + name, expectOut(r.response, "msg", msg)); },
                      function (e) { report("notify." + name, describe(e)); });
        }]);
    }
    notifyThenLast("oneway", "one-way " + (tup ? "tup" : "tars") + " " + Date.now(), { packetType: 1 }, true);
    notifyThenLast("twoway", "two-way " + (tup ? "tup" : "tars") + " " + Date.now(), {}, false);
    C.push(["lastNotify", "lastNotify.after_notify", function () {
        var msg = "last " + Date.now();
        return check("lastNotify.after_notify",
            function () { return proxy.notify(msg, {}).then(function () { return proxy.lastNotify(); }); },
            function (r) { return expectOut(r, "msg", msg); });
    }]);

    // Unknown function: invoke "noSuchFunc" raw; the server must answer iRet -3.
    C.push(["noSuchFunc", "noSuchFunc.ret_minus_3", function () {
        var w = proxy._worker;
        var p = tup ? w.tup_invoke("noSuchFunc", new TarsStream.UniAttribute(), {})
                    : w.tars_invoke("noSuchFunc", new TarsStream.TarsOutputStream().getBinBuffer(), {});
        return p.then(function () {
            report("noSuchFunc.ret_minus_3", "call succeeded, want iRet -3");
        }, function (e) {
            var code = e && e.error ? e.error.code : undefined;
            report("noSuchFunc.ret_minus_3", code === TarsError.SERVER.FUNC_NOT_FOUND ? null
                : "got " + (e && e.error ? "code " + code + " (" + e.error.message + ")" : describe(e)) + ", want -3");
        });
    }]);
    return C;
}

// ---------------------------------------------------------------------------------------------
function usage() {
    process.stderr.write('usage: node hello_client.js "Test.HelloServer.HelloObj@tcp -h HOST -p PORT" [--tup] [--only m1,m2]\n');
    process.exit(2);
}

// Fail fast (exit 2) when nothing listens, instead of timing out every call.
function probe(objName) {
    var h = /-h\s+(\S+)/.exec(objName), p = /-p\s+(\d+)/.exec(objName);
    if (!h || !p) usage();
    return new Promise(function (resolve, reject) {
        var s = net.connect({ host: h[1], port: parseInt(p[1], 10) });
        s.setTimeout(CALL_TIMEOUT_MS, function () { s.destroy(); reject(new Error("connect timeout")); });
        s.on("connect", function () { s.destroy(); resolve(); });
        s.on("error", reject);
    });
}

function main() {
    var argv = process.argv.slice(2);
    var objName = argv[0];
    if (!objName || objName.indexOf("@") === -1) usage();
    var tup = argv.indexOf("--tup") !== -1;
    var only = null;
    var oi = argv.indexOf("--only");
    if (oi !== -1) {
        if (!argv[oi + 1]) usage();
        only = argv[oi + 1].split(",").map(function (s) { return s.trim(); });
    }

    setTimeout(function () {
        console.log("FAIL global_timeout: not finished after " + GLOBAL_TIMEOUT_MS + " ms");
        process.exit(3);
    }, GLOBAL_TIMEOUT_MS);
    // Tars.js decodes responses inside its socket handler: a ResponsePacket it cannot decode
    // (e.g. one missing a required tag 1-7) throws there, outside any promise.
    process.on("uncaughtException", function (e) {
        console.log("FAIL uncaught: " + ((e && e.message) || e));
        process.exit(1);
    });

    probe(objName).then(function () {
        var comm = Tars.Communicator.New();
        var proxy = comm.stringToProxy(Test.HelloProxy, objName);
        proxy.setTimeout(CALL_TIMEOUT_MS);
        // Must be set before the first call: the connection's decoder is fixed when it opens.
        if (tup) proxy.setVersion(TarsStream.Tup.TUP_SIMPLE);

        var checks = buildChecks(proxy, tup).filter(function (c) {
            return !only || only.indexOf(c[0]) !== -1;
        });
        return checks.reduce(function (p, c) { return p.then(c[2]); }, Promise.resolve());
    }, function (e) {
        console.log("FAIL connect: " + e.message);
        process.exit(2);
    }).then(function () {
        process.exit(results.fail === 0 && results.ok > 0 ? 0 : 1);
    }, function (e) {
        console.log("FAIL internal: " + ((e && e.stack) || e));
        process.exit(1);
    });
}

main();
