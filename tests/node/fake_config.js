#!/usr/bin/env node
// A fake tarsconfig on @tars/rpc: serves tars.Config (ConfigF) as tars.tarsconfig.ConfigObj,
// answering loadConfig and loadConfigByInfo from files the test gives it on stdin. The
// ConfigInfo struct is written here by hand from ConfigF.tars on @tars/stream.
//
// Usage: node fake_config.js   (a free port)
// Prints "config PORT". Then reads one JSON command a line on stdin:
//   {"file":NAME,"content":TEXT}   serve NAME with TEXT
//   {"remove":NAME}                NAME is unknown again (answered with return code -1)
//   {"fail":CODE}                  answer every load with return code CODE (0: stop failing)
// and answers each with "ack N" (N counts commands). Each load is printed as a JSON line:
//   {"func":..,"app":..,"server":..,"filename":..,"bAppOnly":..,"host":..,"setdivision":..,"ret":..}
// Runs until stdin closes or 120 s pass.
"use strict";

var Tars = require("@tars/rpc");
var TarsError = Tars.error;
var TarsStream = require("@tars/stream");

var host = require("./fake_host.js");
var files = {};
var failCode = 0;

// struct ConfigInfo (ConfigF.tars): only read here.
var ConfigInfo = function () {
    this.appname = "";
    this.servername = "";
    this.filename = "";
    this.bAppOnly = false;
    this.host = "";
    this.setdivision = "";
};
ConfigInfo._readFrom = function (is) {
    var c = new ConfigInfo();
    c.appname = is.readString(0, true, "");
    c.servername = is.readString(1, true, "");
    c.filename = is.readString(2, true, "");
    c.bAppOnly = is.readBoolean(3, true, false);
    c.host = is.readString(4, false, "");
    c.setdivision = is.readString(5, false, "");
    return c;
};

var ConfigImp = function () {};
ConfigImp.prototype.initialize = function () {};
ConfigImp.prototype.onDispatch = function (current, funcName, binBuffer) {
    var is = new TarsStream.TarsInputStream(binBuffer);
    var line = { func: funcName };
    var outTag;
    if (funcName === "loadConfig") {
        // int loadConfig(string app, string server, string filename, out string config)
        line.app = is.readString(1, true, "");
        line.server = is.readString(2, true, "");
        line.filename = is.readString(3, true, "");
        outTag = 4;
    } else if (funcName === "loadConfigByInfo") {
        // int loadConfigByInfo(ConfigInfo configInfo, out string config)
        var info = is.readStruct(1, true, ConfigInfo);
        line.app = info.appname;
        line.server = info.servername;
        line.filename = info.filename;
        line.bAppOnly = info.bAppOnly;
        line.host = info.host;
        line.setdivision = info.setdivision;
        outTag = 2;
    } else {
        return TarsError.SERVER.FUNC_NOT_FOUND;
    }
    var content = files[line.filename];
    var ret = failCode !== 0 ? failCode : (content === undefined ? -1 : 0);
    line.ret = ret;
    process.stdout.write(JSON.stringify(line) + "\n");
    var os = new TarsStream.TarsOutputStream();
    os.writeInt32(0, ret);
    os.writeString(outTag, ret === 0 ? content : "");
    current.doResponse(os.getBinBuffer());
    return TarsError.SUCCESS;
};

host.serve(ConfigImp, "tars.tarsconfig.ConfigObj", "config", 0);

host.commands(function (cmd) {
    if (cmd.file !== undefined) files[cmd.file] = cmd.content;
    if (cmd.remove !== undefined) delete files[cmd.remove];
    if (cmd.fail !== undefined) failCode = cmd.fail;
});
