//! Rust names for the resolved IDL, and the collisions they may cause.
//!
//! Modules, fields, operations and parameters become snake_case, enumerators
//! UpperCamelCase; struct, enum, interface and const names stay as written. Rust keywords
//! become raw identifiers. Two IDL names that end up as one Rust name (`userId` and
//! `user_id`), or an IDL name equal to a generated one (`HelloProxy`, an operation
//! `doClose`), are errors naming both, with the rename that fixes them:
//! `Module`, `Module.Item`, `Module.Item.member`, `Module.Interface.op.param`.

use crate::error::{Error, Span};
use crate::load::Loaded;
use crate::model::*;
use crate::naming::{rust_ident, snake, upper_camel};
use std::collections::{BTreeMap, BTreeSet};

/// Parameter names the generated code writes itself: every servant method takes
/// `current: &Current`, so an IDL parameter of that name gets a trailing `_` (its wire name
/// stays). The macros' own locals are hygienic and need no such care.
const RESERVED_PARAMS: [&str; 1] = ["current"];

struct Namer<'a> {
    renames: &'a BTreeMap<String, String>,
    used: BTreeSet<String>,
    loaded: &'a Loaded,
}

impl Namer<'_> {
    /// The Rust name of the IDL item `key`: its rename if configured, else `default`.
    fn name(&mut self, key: &str, default: String) -> String {
        match self.renames.get(key) {
            Some(r) => {
                self.used.insert(key.to_string());
                rust_ident(r)
            }
            None => default,
        }
    }

    fn at(&self, span: Span) -> String {
        let path = self
            .loaded
            .paths
            .get(span.file)
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        format!("{path}:{}:{}", span.line, span.col)
    }
}

/// One name in a Rust namespace: what it stands for, where, and its rename key.
struct Entry {
    what: String,
    span: Span,
    key: String,
}

/// A Rust namespace being filled: the first clash is an error.
struct Scope<'n, 'a> {
    namer: &'n Namer<'a>,
    seen: BTreeMap<String, Entry>,
}

impl<'n, 'a> Scope<'n, 'a> {
    fn new(namer: &'n Namer<'a>) -> Self {
        Scope {
            namer,
            seen: BTreeMap::new(),
        }
    }

    fn add(&mut self, rust: &str, what: String, span: Span, key: &str) -> Result<(), Error> {
        let plain = rust.strip_prefix("r#").unwrap_or(rust).to_string();
        if let Some(first) = self.seen.get(&plain) {
            let hint = if key.is_empty() { &first.key } else { key };
            return Err(Error::at(
                span,
                format!(
                    "{what} and {} (at {}) both become the Rust name `{plain}`; rename one \
                     (tars2rs --rename {hint}=NEW_NAME, or .rename(\"{hint}\", \"NEW_NAME\") in build.rs)",
                    first.what,
                    self.namer.at(first.span),
                ),
            ));
        }
        self.seen.insert(
            plain,
            Entry {
                what,
                span,
                key: key.to_string(),
            },
        );
        Ok(())
    }
}

/// Fills in every `rust` name of `model`, applying `renames` (all of which must be used).
pub fn assign(
    model: &mut Model,
    renames: &BTreeMap<String, String>,
    loaded: &Loaded,
) -> Result<(), Error> {
    let mut namer = Namer {
        renames,
        used: BTreeSet::new(),
        loaded,
    };
    let mut module_names: BTreeMap<String, (String, Span)> = BTreeMap::new();
    for module in &mut model.modules {
        module.rust = namer.name(&module.idl, rust_ident(&snake(&module.idl)));
        if let Some((other, span)) = module_names.get(&module.rust) {
            return Err(Error::at(
                module.span,
                format!(
                    "modules `{}` and `{other}` (at {}) both become the Rust module `{}`; rename one \
                     (tars2rs --rename {}=NEW_NAME)",
                    module.idl,
                    namer.at(*span),
                    module.rust,
                    module.idl
                ),
            ));
        }
        module_names.insert(module.rust.clone(), (module.idl.clone(), module.span));
        name_module(&mut namer, module)?;
    }
    if let Some(unused) = renames.keys().find(|k| !namer.used.contains(*k)) {
        return Err(Error::plain(format!(
            "rename `{unused}` matches no IDL item (expected Module, Module.Item, Module.Item.member or Module.Interface.op.param)"
        )));
    }
    Ok(())
}

fn name_module(namer: &mut Namer, module: &mut Module) -> Result<(), Error> {
    let m = module.idl.clone();
    for s in &mut module.structs {
        s.rust = namer.name(&format!("{m}.{}", s.idl), rust_ident(&s.idl));
        for f in &mut s.fields {
            f.rust = namer.name(
                &format!("{m}.{}.{}", s.idl, f.idl),
                rust_ident(&snake(&f.idl)),
            );
        }
    }
    for e in &mut module.enums {
        e.rust = namer.name(&format!("{m}.{}", e.idl), rust_ident(&e.idl));
        for v in &mut e.variants {
            v.rust = namer.name(
                &format!("{m}.{}.{}", e.idl, v.idl),
                rust_ident(&upper_camel(&v.idl)),
            );
        }
        e.unknown = ["Unknown", "UnknownValue", "Undeclared"]
            .iter()
            .find(|n| !e.variants.iter().any(|v| v.rust == **n))
            .map_or_else(|| "UnknownValue_".to_string(), |n| n.to_string());
    }
    for c in &mut module.consts {
        c.rust = namer.name(&format!("{m}.{}", c.idl), rust_ident(&c.idl));
    }
    for i in &mut module.interfaces {
        i.rust = namer.name(&format!("{m}.{}", i.idl), rust_ident(&i.idl));
        for op in &mut i.ops {
            let key = format!("{m}.{}.{}", i.idl, op.idl);
            op.rust = namer.name(&key, rust_ident(&snake(&op.idl)));
            for p in &mut op.params {
                let pkey = format!("{key}.{}", p.idl);
                let mut rust = rust_ident(&snake(&p.idl));
                if RESERVED_PARAMS.contains(&rust.as_str()) {
                    rust.push('_');
                }
                p.rust = namer.name(&pkey, rust);
            }
        }
    }
    check_module(namer, module)
}

/// Every clash inside `module`.
fn check_module(namer: &Namer, module: &Module) -> Result<(), Error> {
    let m = &module.idl;
    let mut items = Scope::new(namer);
    for &item in &module.order {
        match item {
            ItemRef::Struct(i) => {
                let s = &module.structs[i];
                items.add(
                    &s.rust,
                    format!("struct `{}`", s.idl),
                    s.span,
                    &format!("{m}.{}", s.idl),
                )?;
                let mut fields = Scope::new(namer);
                for f in &s.fields {
                    let key = format!("{m}.{}.{}", s.idl, f.idl);
                    fields.add(&f.rust, format!("member `{}`", f.idl), f.span, &key)?;
                }
            }
            ItemRef::Enum(i) => {
                let e = &module.enums[i];
                items.add(
                    &e.rust,
                    format!("enum `{}`", e.idl),
                    e.span,
                    &format!("{m}.{}", e.idl),
                )?;
                let mut variants = Scope::new(namer);
                for v in &e.variants {
                    let key = format!("{m}.{}.{}", e.idl, v.idl);
                    variants.add(&v.rust, format!("enumerator `{}`", v.idl), v.span, &key)?;
                }
            }
            ItemRef::Const(i) => {
                let c = &module.consts[i];
                items.add(
                    &c.rust,
                    format!("const `{}`", c.idl),
                    c.span,
                    &format!("{m}.{}", c.idl),
                )?;
            }
            ItemRef::Interface(i) => check_interface(namer, &mut items, m, &module.interfaces[i])?,
        }
    }
    Ok(())
}

fn check_interface(namer: &Namer, items: &mut Scope, m: &str, i: &Interface) -> Result<(), Error> {
    let key = format!("{m}.{}", i.idl);
    items.add(&i.rust, format!("interface `{}`", i.idl), i.span, &key)?;
    let base = i.rust.strip_prefix("r#").unwrap_or(&i.rust);
    let helpers: &[&str] = if i.push {
        &["Sender", "PrxCallback", "PrxDispatcher"]
    } else {
        &["Servant", "Proxy"]
    };
    for h in helpers {
        let what = format!("`{base}{h}` generated for interface `{}`", i.idl);
        items.add(&format!("{base}{h}"), what, i.span, &key)?;
    }
    // Methods: the operations and what the macros generate next to them.
    let mut methods = Scope::new(namer);
    let provided: &[&str] = if i.push {
        &["on_connect", "on_close", "new", "from_arc"]
    } else {
        &[
            "do_close",
            "servant_proxy",
            "from_servant_proxy",
            "clone",
            "clone_from",
            "fmt",
        ]
    };
    for p in provided {
        methods.add(p, format!("the generated method `{p}`"), i.span, "")?;
    }
    for op in &i.ops {
        let okey = format!("{key}.{}", op.idl);
        let rust = op.rust.strip_prefix("r#").unwrap_or(&op.rust);
        let names = if i.push {
            vec![
                rust.to_string(),
                format!("{rust}_frame"),
                format!("callback_{rust}"),
                format!("callback_{rust}_exception"),
            ]
        } else {
            vec![rust.to_string()]
        };
        for n in names {
            let what = if n == rust {
                format!("operation `{}`", op.idl)
            } else {
                format!("`{n}` generated for operation `{}`", op.idl)
            };
            methods.add(&n, what, op.span, &okey)?;
        }
        let mut params = Scope::new(namer);
        for p in &op.params {
            let pkey = format!("{okey}.{}", p.idl);
            params.add(&p.rust, format!("parameter `{}`", p.idl), p.span, &pkey)?;
        }
    }
    Ok(())
}
