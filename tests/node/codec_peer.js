#!/usr/bin/env node
// JSON-driven encoder/decoder backed by the real @tars/stream package.
//
// stdin : ONE JSON array of requests; stdout: ONE JSON array of results (same length, same order).
//   {"op":"encode","type":T,"tag":N,"value":V} -> {"hex":"..."}   one field of type T at tag N,
//                                                                  written with a fresh TarsOutputStream
//   {"op":"decode","type":T,"tag":N,"hex":H}   -> {"value":V}     field of type T at tag N (required)
//   any failure                                -> {"error":"message"}  (the batch always completes)
//
// Types T: bool int8 int16 int32 int64 uint8 uint16 uint32 float double string bytes
//          list<T> map<K,V> enum:Test.Color struct:Test.Person struct:Test.AllTypes
// JSON values: numbers, except int64 and uint32 which are decimal strings (int64 is exact: Tars.js
// string mode); float/double numbers; string UTF-8; bytes lowercase hex; list array; map array of
// [key, value] pairs; enum integer; struct object keyed by IDL field names (see test_types.js).
"use strict";

var types = require("./test_types.js");
var TarsStream = types.TarsStream;

function handle(req) {
    if (req === null || typeof req !== "object") throw new Error("request must be an object");
    if (!Number.isInteger(req.tag) || req.tag < 0 || req.tag > 255) throw new Error("tag must be an integer 0..255");
    var d = types.parseType(req.type);
    if (req.op === "encode") {
        var os = new TarsStream.TarsOutputStream();
        types.writeField(os, d, req.tag, d.toTars(req.value));
        return { hex: os.getBinBuffer().toNodeBuffer().toString("hex") };
    }
    if (req.op === "decode") {
        var is = new TarsStream.TarsInputStream(new TarsStream.BinBuffer(types.hexToBuffer(req.hex)));
        return { value: d.fromTars(types.readField(is, d, req.tag, true)) };
    }
    throw new Error("unknown op " + JSON.stringify(req.op));
}

var chunks = [];
process.stdin.on("data", function (c) { chunks.push(c); });
process.stdin.on("end", function () {
    var reqs;
    try {
        reqs = JSON.parse(Buffer.concat(chunks).toString("utf8"));
        if (!Array.isArray(reqs)) throw new Error("input must be a JSON array");
    } catch (e) {
        process.stderr.write("codec_peer: bad input: " + e.message + "\n");
        process.exit(2);
    }
    var out = reqs.map(function (req) {
        try {
            return handle(req);
        } catch (e) {
            return { error: String((e && e.message) || e) };
        }
    });
    process.stdout.write(JSON.stringify(out) + "\n");
});
