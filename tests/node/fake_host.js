// What every fake framework service shares: serving a servant implementation on
// @tars/rpc at a port, announcing "LABEL PORT" on stdout once it listens, and reading one
// JSON command a line from stdin, answered with "ack N" (N counts commands). The process
// ends when stdin closes or after 120 s.
"use strict";

var Tars = require("@tars/rpc");

var HOST = "127.0.0.1";

// Serves `Imp` as servant `name` on HOST:`port` (0: a free one), then prints "`label` PORT".
exports.serve = function (Imp, name, label, port) {
    var svr = Tars.server.createServer(Imp);
    svr.start({ name: name + "Adapter", servant: name,
                endpoint: "tcp -h " + HOST + " -p " + (port || 0), protocol: "tars", maxconns: 1024 });
    var listener = svr._server._adapters[0]._netthread._listener;
    var announce = function () { process.stdout.write(label + " " + listener.address().port + "\n"); };
    if (listener.listening) announce(); else listener.once("listening", announce);
};

// Calls `handle(cmd)` for each JSON line on stdin (none: `handle` omitted) and acks it.
exports.commands = function (handle) {
    var buffered = "";
    var count = 0;
    process.stdin.on("data", function (chunk) {
        if (!handle) return;
        buffered += chunk.toString();
        var lines = buffered.split("\n");
        buffered = lines.pop();
        lines.forEach(function (text) {
            if (!text.trim()) return;
            handle(JSON.parse(text));
            count += 1;
            process.stdout.write("ack " + count + "\n");
        });
    });
    process.stdin.on("end", function () { process.exit(0); });
    setTimeout(function () { process.exit(0); }, 120000).unref();
};
