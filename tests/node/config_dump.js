'use strict';
// Reads TARS config files with @tars/utils' Configure (the parser Tars.js servers use) and
// prints, as one JSON object keyed by file, each file's tree and the value `Configure.get`
// returns for every parameter whose path it can spell.
//   node config_dump.js FILE...
// A tree is { params: {key: value}, domains: [[name, tree]...], lines: [raw line...] };
// a bare key (Configure gives it `undefined`) is dumped as "".

const fs = require('fs');
const Configure = require('@tars/utils').Config;

const LINES = 'tars_config_line_vector_value';

function tree(obj) {
    const params = {};
    const domains = [];
    for (const key of Object.keys(obj)) {
        if (key === LINES) continue;
        const v = obj[key];
        if (v !== null && typeof v === 'object') domains.push([key, tree(v)]);
        else params[key] = v === undefined ? '' : v;
    }
    return { params, domains, lines: obj[LINES] || [] };
}

// `get` takes `a.b.<key>`; names holding `.`, `<`, `>` or blanks cannot be spelled.
const spellable = (s) => s.length > 0 && !/[.<>\s]/.test(s);

function gets(obj, domains, out) {
    for (const key of Object.keys(obj)) {
        if (key === LINES) continue;
        const v = obj[key];
        if (v !== null && typeof v === 'object') {
            gets(v, domains.concat([key]), out);
        } else if (domains.length > 0 && domains.every(spellable) && spellable(key)) {
            out.push({ domains, key, path: domains.join('.') + '.<' + key + '>' });
        }
    }
    return out;
}

const result = {};
for (const file of process.argv.slice(2)) {
    const conf = new Configure();
    if (!conf.parseText(fs.readFileSync(file, 'utf8'))) {
        console.error('Configure could not parse ' + file);
        process.exit(1);
    }
    const lookups = gets(conf._data, [], []).map((g) => {
        const v = conf.get(g.path);
        return { domains: g.domains, key: g.key, value: v === undefined ? '' : v };
    });
    result[file] = { tree: tree(conf._data), lookups };
}
console.log(JSON.stringify(result));
