//! From syntax to [`Model`]: merges reopened modules, looks up `M::T` names, checks tags,
//! values and defaults as tars2cpp does, and computes which structs need `Ord`.
//! Rust names are chosen afterwards by [`crate::names`].

use crate::ast::{self, TypeRef, Value};
use crate::error::{Error, Span};
use crate::load::Loaded;
use crate::model::*;
use std::collections::HashMap;

mod checks;
mod text;

pub use text::{idl_type, path_text};
use text::{op_decl, value_text};

/// Resolves every module of `loaded`; `push` lists the push interfaces as `Module.Interface`.
pub fn resolve(loaded: &Loaded, push: &[String]) -> Result<Model, Error> {
    let mut r = Resolver::default();
    r.collect(loaded)?;
    r.enums()?;
    r.structs()?;
    r.keys()?;
    r.consts()?;
    r.interfaces(push)?;
    r.check_cycles()?;
    r.mark_ord()?;
    Ok(r.model)
}

/// Where a name of a module is declared: kind, index, span.
#[derive(Clone, Copy)]
enum Decl {
    Struct(usize),
    Enum(usize),
}

#[derive(Default)]
pub(crate) struct Resolver<'a> {
    pub(crate) model: Model,
    /// Syntax of each module's items, same indexes as the model's vectors.
    structs: Vec<Vec<&'a ast::Struct>>,
    enums: Vec<Vec<&'a ast::Enum>>,
    consts: Vec<Vec<&'a ast::Const>>,
    interfaces: Vec<Vec<&'a ast::Interface>>,
    keys: Vec<(usize, &'a ast::Key)>,
    types: Vec<HashMap<String, (Decl, Span)>>,
}

impl<'a> Resolver<'a> {
    fn collect(&mut self, loaded: &'a Loaded) -> Result<(), Error> {
        let mut by_name: HashMap<String, usize> = HashMap::new();
        for file in &loaded.files {
            for m in &file.modules {
                let mi = *by_name.entry(m.name.name.clone()).or_insert_with(|| {
                    self.model.modules.push(Module {
                        idl: m.name.name.clone(),
                        doc: m.doc.clone(),
                        span: m.name.span,
                        ..Module::default()
                    });
                    self.structs.push(Vec::new());
                    self.enums.push(Vec::new());
                    self.consts.push(Vec::new());
                    self.interfaces.push(Vec::new());
                    self.types.push(HashMap::new());
                    self.model.modules.len() - 1
                });
                for item in &m.items {
                    self.collect_item(mi, item)?;
                }
            }
        }
        Ok(())
    }

    fn collect_item(&mut self, mi: usize, item: &'a ast::Item) -> Result<(), Error> {
        let module = &mut self.model.modules[mi];
        match item {
            ast::Item::Struct(s) => {
                let i = self.structs[mi].len();
                declare(
                    &mut self.types[mi],
                    &module.idl,
                    &s.name,
                    Decl::Struct(i),
                    "struct",
                )?;
                self.structs[mi].push(s);
                module.order.push(ItemRef::Struct(i));
            }
            ast::Item::Enum(e) => {
                let i = self.enums[mi].len();
                declare(
                    &mut self.types[mi],
                    &module.idl,
                    &e.name,
                    Decl::Enum(i),
                    "enum",
                )?;
                self.enums[mi].push(e);
                module.order.push(ItemRef::Enum(i));
            }
            ast::Item::Const(c) => {
                if let Some(other) = self.consts[mi].iter().find(|o| o.name.name == c.name.name) {
                    return Err(Error::at(
                        c.name.span,
                        format!(
                            "const `{}` is already defined in module `{}` (line {})",
                            c.name.name, module.idl, other.name.span.line
                        ),
                    ));
                }
                module.order.push(ItemRef::Const(self.consts[mi].len()));
                self.consts[mi].push(c);
            }
            ast::Item::Interface(it) => {
                if it.name.name == module.idl {
                    return Err(Error::at(
                        it.name.span,
                        format!(
                            "interface `{}` must not have the name of its module",
                            it.name.name
                        ),
                    ));
                }
                if self.interfaces[mi]
                    .iter()
                    .any(|o| o.name.name == it.name.name)
                {
                    return Err(Error::at(
                        it.name.span,
                        format!(
                            "interface `{}` is already defined in module `{}`",
                            it.name.name, module.idl
                        ),
                    ));
                }
                module
                    .order
                    .push(ItemRef::Interface(self.interfaces[mi].len()));
                self.interfaces[mi].push(it);
            }
            ast::Item::Key(k) => self.keys.push((mi, k)),
        }
        Ok(())
    }

    /// Looks up a struct or enum named `path` from module `mi`: `T` is looked up in `mi`
    /// only (as tars2cpp), `M::T` in module `M`.
    fn lookup(&self, mi: usize, path: &[ast::Ident]) -> Result<(usize, Decl), Error> {
        let span = path[0].span;
        let text = path
            .iter()
            .map(|p| p.name.as_str())
            .collect::<Vec<_>>()
            .join("::");
        let (module, name) = match path {
            [name] => (mi, name),
            [m, name] => {
                let Some(module) = self.model.modules.iter().position(|x| x.idl == m.name) else {
                    return Err(Error::at(
                        span,
                        format!("type `{text}` is not defined: no module `{}`", m.name),
                    ));
                };
                (module, name)
            }
            _ => {
                return Err(Error::at(
                    span,
                    format!("type `{text}`: expected `Type` or `Module::Type`"),
                ))
            }
        };
        match self.types[module].get(&name.name) {
            Some((decl, _)) => Ok((module, *decl)),
            None => Err(Error::at(
                span,
                format!(
                    "type `{text}` is not defined in module `{}`",
                    self.model.modules[module].idl
                ),
            )),
        }
    }

    fn ty(&self, mi: usize, t: &TypeRef) -> Result<Ty, Error> {
        Ok(match t {
            TypeRef::Bool => Ty::Bool,
            TypeRef::Byte => Ty::I8,
            TypeRef::UByte => Ty::U8,
            TypeRef::Short => Ty::I16,
            TypeRef::UShort => Ty::U16,
            TypeRef::Int => Ty::I32,
            TypeRef::UInt => Ty::U32,
            TypeRef::Long => Ty::I64,
            TypeRef::Float => Ty::F32,
            TypeRef::Double => Ty::F64,
            TypeRef::String => Ty::Str,
            TypeRef::Vector(inner) => match **inner {
                TypeRef::Byte => Ty::Bytes,
                // A list of shorts, not a SimpleList (tars2cpp writes each UInt8 as a short).
                TypeRef::UByte => Ty::Vec(Box::new(Ty::I16)),
                ref other => Ty::Vec(Box::new(self.ty(mi, other)?)),
            },
            TypeRef::Map(k, v) => Ty::Map(Box::new(self.ty(mi, k)?), Box::new(self.ty(mi, v)?)),
            TypeRef::Named(path) => match self.lookup(mi, path)? {
                (m, Decl::Struct(i)) => Ty::Struct(m, i),
                (m, Decl::Enum(i)) => Ty::Enum(m, i),
            },
        })
    }

    fn enums(&mut self) -> Result<(), Error> {
        for mi in 0..self.enums.len() {
            for ei in 0..self.enums[mi].len() {
                let e = self.enums[mi][ei];
                if e.members.is_empty() {
                    return Err(Error::at(
                        e.name.span,
                        format!("enum `{}` has no enumerators", e.name.name),
                    ));
                }
                let mut variants: Vec<Variant> = Vec::new();
                let mut next: i64 = 0;
                for m in &e.members {
                    if variants.iter().any(|v| v.idl == m.name.name) {
                        return Err(Error::at(
                            m.name.span,
                            format!(
                                "enumerator `{}` is defined twice in enum `{}`",
                                m.name.name, e.name.name
                            ),
                        ));
                    }
                    let value = match &m.value {
                        None => next,
                        Some(v) => match &v.value {
                            Value::Int(i) => *i,
                            Value::Enum(path) => {
                                let last = &path[path.len() - 1].name;
                                match variants.iter().find(|x| &x.idl == last) {
                                    Some(x) => i64::from(x.value),
                                    None => self.enumerator_value(mi, path, v.span)?,
                                }
                            }
                            _ => {
                                return Err(Error::at(
                                    v.span,
                                    "an enumerator's value must be an integer or an enumerator",
                                ))
                            }
                        },
                    };
                    let value = i32::try_from(value).map_err(|_| {
                        Error::at(
                            m.name.span,
                            format!(
                                "enumerator `{}` = {value} does not fit in an int",
                                m.name.name
                            ),
                        )
                    })?;
                    next = i64::from(value) + 1;
                    variants.push(Variant {
                        idl: m.name.name.clone(),
                        rust: String::new(),
                        doc: m.doc.clone(),
                        span: m.name.span,
                        value,
                    });
                }
                self.model.modules[mi].enums.push(Enum {
                    idl: e.name.name.clone(),
                    rust: String::new(),
                    doc: e.doc.clone(),
                    span: e.name.span,
                    variants,
                    unknown: String::new(),
                });
            }
        }
        Ok(())
    }

    /// The value of an enumerator named by `path` (`NAME`, `M::NAME` or `M::Enum::NAME`)
    /// among the enums resolved so far.
    fn enumerator_value(&self, mi: usize, path: &[ast::Ident], span: Span) -> Result<i64, Error> {
        let last = &path[path.len() - 1].name;
        let module = match path {
            [_] => Some(mi),
            [m, ..] => self.model.modules.iter().position(|x| x.idl == m.name),
            [] => None,
        };
        let found = module.and_then(|m| {
            self.model.modules[m]
                .enums
                .iter()
                .flat_map(|e| &e.variants)
                .find(|v| &v.idl == last)
        });
        found.map(|v| i64::from(v.value)).ok_or_else(|| {
            Error::at(
                span,
                format!("enumerator `{}` is not defined (yet)", path_text(path)),
            )
        })
    }

    fn structs(&mut self) -> Result<(), Error> {
        for mi in 0..self.structs.len() {
            for si in 0..self.structs[mi].len() {
                let s = self.structs[mi][si];
                let mut fields: Vec<Field> = Vec::new();
                for f in &s.fields {
                    let ty = self.ty(mi, &f.ty)?;
                    if ty == Ty::Struct(mi, si) {
                        return Err(Error::at(
                            f.name.span,
                            format!(
                                "struct `{}` cannot hold itself (field `{}`); use vector<{}> for a recursive type",
                                s.name.name, f.name.name, s.name.name
                            ),
                        ));
                    }
                    if let Some(o) = fields.iter().find(|o| o.idl == f.name.name) {
                        return Err(Error::at(
                            f.name.span,
                            format!(
                                "member `{}` is defined twice in struct `{}` (line {})",
                                f.name.name, s.name.name, o.span.line
                            ),
                        ));
                    }
                    if let Some(o) = fields.iter().find(|o| i64::from(o.tag) == f.tag) {
                        return Err(Error::at(
                            f.tag_span,
                            format!(
                                "member `{}` has the same tag {} as `{}`",
                                f.name.name, f.tag, o.idl
                            ),
                        ));
                    }
                    let default = match &f.default {
                        Some(v) => self.value(mi, &ty, v)?,
                        None => None,
                    };
                    let q = if f.require { "require" } else { "optional" };
                    let mut decl = format!("{} {q} {} {}", f.tag, idl_type(&f.ty), f.name.name);
                    if let Some(v) = &f.default {
                        decl.push_str(&format!(" = {}", value_text(&v.value)));
                    }
                    fields.push(Field {
                        idl: f.name.name.clone(),
                        rust: String::new(),
                        doc: f.doc.clone(),
                        decl,
                        span: f.name.span,
                        tag: f.tag as u8,
                        require: f.require,
                        ty,
                        default,
                    });
                }
                fields.sort_by_key(|f| f.tag);
                self.model.modules[mi].structs.push(Struct {
                    idl: s.name.name.clone(),
                    rust: String::new(),
                    doc: s.doc.clone(),
                    span: s.name.span,
                    fields,
                    key: Vec::new(),
                    ord: false,
                });
            }
        }
        Ok(())
    }

    /// Checks `v` against `ty` as tars2cpp's `checkConstValue` does and converts it; `None`
    /// when it is the type's zero value (nothing to declare).
    fn value(&self, mi: usize, ty: &Ty, v: &ast::ValueAt) -> Result<Option<Lit>, Error> {
        let span = v.span;
        let err = |m: &str| Err(Error::at(span, m.to_string()));
        let lit = match (ty, &v.value) {
            (Ty::Enum(m, e), Value::Int(i)) => {
                let e_def = &self.model.modules[*m].enums[*e];
                let Ok(i) = i32::try_from(*i) else {
                    return err("enum value does not fit in an int");
                };
                match e_def.variants.iter().position(|x| x.value == i) {
                    Some(p) => Lit::Variant(*m, *e, p),
                    None => Lit::Undeclared(*m, *e, i),
                }
            }
            (Ty::Enum(m, e), Value::Enum(path)) => {
                let last = &path[path.len() - 1].name;
                let e_def = &self.model.modules[*m].enums[*e];
                match e_def.variants.iter().position(|x| &x.idl == last) {
                    Some(p) => Lit::Variant(*m, *e, p),
                    None => {
                        return err(&format!(
                            "`{}` is not an enumerator of enum `{}`",
                            path_text(path),
                            e_def.idl
                        ))
                    }
                }
            }
            (Ty::Enum(..), _) => {
                return err("the default of an enum must be an enumerator or an integer")
            }
            (Ty::Bool, Value::Bool(b)) => Lit::Bool(*b),
            (Ty::Bool, _) => return err("the default of a bool can only be true or false"),
            (Ty::Str, Value::Str(s)) => match String::from_utf8(s.clone()) {
                Ok(s) => Lit::Str(s),
                Err(_) => return err("this string constant is not valid UTF-8"),
            },
            (Ty::Str, _) => return err("the default of a string can only be a \"string\""),
            (_, Value::Str(_)) => return err("only a string can have a \"string\" value"),
            (_, Value::Bool(_)) => return err("only a bool can be true or false"),
            (Ty::F32 | Ty::F64, Value::Int(i)) => Lit::Float(*i as f64),
            (Ty::F32 | Ty::F64, Value::Float(f)) => Lit::Float(*f),
            (Ty::F32 | Ty::F64, Value::Enum(path)) => {
                Lit::Float(self.any_enumerator(path, span)? as f64)
            }
            (t, val) if is_integer(t) => {
                let raw = match val {
                    Value::Int(i) => *i,
                    // C++ truncates a float initialiser of an integer.
                    Value::Float(f) => *f as i64,
                    Value::Enum(path) => self.any_enumerator(path, span)?,
                    _ => unreachable!("strings and bools handled above"),
                };
                Lit::Int(convert_int(t, raw))
            }
            _ => return err("only builtin types and enums can have a default value"),
        };
        let _ = mi;
        let zero = match &lit {
            Lit::Int(0) | Lit::Bool(false) => true,
            Lit::Float(f) => *f == 0.0,
            Lit::Str(s) => s.is_empty(),
            _ => false,
        };
        Ok((!zero).then_some(lit))
    }

    /// An enumerator of any enum (tars2cpp accepts one as an integer initialiser).
    fn any_enumerator(&self, path: &[ast::Ident], span: Span) -> Result<i64, Error> {
        let last = &path[path.len() - 1].name;
        self.model
            .modules
            .iter()
            .flat_map(|m| &m.enums)
            .flat_map(|e| &e.variants)
            .find(|v| &v.idl == last)
            .map(|v| i64::from(v.value))
            .ok_or_else(|| {
                Error::at(
                    span,
                    format!("enumerator `{}` is not defined", path_text(path)),
                )
            })
    }

    fn keys(&mut self) -> Result<(), Error> {
        for &(mi, k) in &self.keys {
            let (m, decl) = self.lookup(mi, &k.target)?;
            let Decl::Struct(si) = decl else {
                return Err(Error::at(
                    k.target[0].span,
                    format!("key: `{}` is not a struct", path_text(&k.target)),
                ));
            };
            let s = &mut self.model.modules[m].structs[si];
            for member in &k.members {
                let Some(i) = s.fields.iter().position(|f| f.idl == member.name) else {
                    return Err(Error::at(
                        member.span,
                        format!(
                            "key member `{}` is not a member of struct `{}`",
                            member.name, s.idl
                        ),
                    ));
                };
                s.key.push(i);
            }
            s.ord = true;
        }
        Ok(())
    }

    fn consts(&mut self) -> Result<(), Error> {
        for mi in 0..self.consts.len() {
            for c in self.consts[mi].clone() {
                let ty = self.ty(mi, &c.ty)?;
                if matches!(ty, Ty::Struct(..) | Ty::Vec(_) | Ty::Bytes | Ty::Map(..)) {
                    return Err(Error::at(
                        c.name.span,
                        "only builtin types and enums can be constants",
                    ));
                }
                let value = match self.value(mi, &ty, &c.value)? {
                    Some(v) => v,
                    None => zero_lit(&ty),
                };
                let decl = format!(
                    "const {} {} = {}",
                    idl_type(&c.ty),
                    c.name.name,
                    value_text(&c.value.value)
                );
                self.model.modules[mi].consts.push(Const {
                    idl: c.name.name.clone(),
                    rust: String::new(),
                    doc: c.doc.clone(),
                    decl,
                    span: c.name.span,
                    ty,
                    value,
                });
            }
        }
        Ok(())
    }

    fn interfaces(&mut self, push: &[String]) -> Result<(), Error> {
        let mut push_found = vec![false; push.len()];
        for mi in 0..self.interfaces.len() {
            for it in self.interfaces[mi].clone() {
                let full = format!("{}.{}", self.model.modules[mi].idl, it.name.name);
                let is_push = push.iter().position(|p| *p == full);
                if let Some(p) = is_push {
                    push_found[p] = true;
                }
                let mut ops: Vec<Operation> = Vec::new();
                for op in &it.ops {
                    if ops.iter().any(|o| o.idl == op.name.name) {
                        return Err(Error::at(
                            op.name.span,
                            format!(
                                "operation `{}` is defined twice in interface `{}`",
                                op.name.name, it.name.name
                            ),
                        ));
                    }
                    let ret = op.ret.as_ref().map(|t| self.ty(mi, t)).transpose()?;
                    let mut params: Vec<Param> = Vec::new();
                    for p in &op.params {
                        if p.name.name == op.name.name {
                            return Err(Error::at(
                                p.name.span,
                                format!(
                                    "parameter `{}` has the name of its operation",
                                    p.name.name
                                ),
                            ));
                        }
                        if params.iter().any(|o| o.idl == p.name.name) {
                            return Err(Error::at(
                                p.name.span,
                                format!(
                                    "parameter `{}` is defined twice in `{}`",
                                    p.name.name, op.name.name
                                ),
                            ));
                        }
                        if is_push.is_some() && !p.out {
                            return Err(Error::at(
                                p.name.span,
                                format!(
                                    "push interface `{full}`: `{}` has the in parameter `{}`; a push carries only a return value and out parameters",
                                    op.name.name, p.name.name
                                ),
                            ));
                        }
                        params.push(Param {
                            idl: p.name.name.clone(),
                            rust: String::new(),
                            span: p.name.span,
                            ty: self.ty(mi, &p.ty)?,
                            out: p.out,
                            routekey: p.routekey,
                        });
                    }
                    if params.len() > 255 {
                        return Err(Error::at(
                            op.name.span,
                            "an operation has at most 255 parameters",
                        ));
                    }
                    ops.push(Operation {
                        idl: op.name.name.clone(),
                        rust: String::new(),
                        doc: op.doc.clone(),
                        decl: op_decl(op),
                        span: op.name.span,
                        ret,
                        params,
                    });
                }
                self.model.modules[mi].interfaces.push(Interface {
                    idl: it.name.name.clone(),
                    rust: String::new(),
                    doc: it.doc.clone(),
                    span: it.name.span,
                    push: is_push.is_some(),
                    ops,
                });
            }
        }
        if let Some(p) = push_found.iter().position(|f| !f) {
            return Err(Error::plain(format!(
                "push interface `{}` is not defined in the IDL (expected `Module.Interface`)",
                push[p]
            )));
        }
        Ok(())
    }
}

fn declare(
    types: &mut HashMap<String, (Decl, Span)>,
    module: &str,
    name: &ast::Ident,
    decl: Decl,
    kind: &str,
) -> Result<(), Error> {
    if let Some((other, span)) = types.get(&name.name) {
        let other_kind = match other {
            Decl::Struct(_) => "struct",
            Decl::Enum(_) => "enum",
        };
        return Err(Error::at(
            name.span,
            format!(
                "{kind} `{module}::{}` conflicts with {other_kind} `{module}::{}` (line {})",
                name.name, name.name, span.line
            ),
        ));
    }
    types.insert(name.name.clone(), (decl, name.span));
    Ok(())
}

fn is_integer(t: &Ty) -> bool {
    matches!(
        t,
        Ty::I8 | Ty::U8 | Ty::I16 | Ty::U16 | Ty::I32 | Ty::U32 | Ty::I64
    )
}

/// An integer initialiser converted to the field's C++ type (modular, as C++ converts).
fn convert_int(t: &Ty, v: i64) -> i128 {
    match t {
        Ty::I8 => i128::from(v as i8),
        Ty::U8 => i128::from(v as u8),
        Ty::I16 => i128::from(v as i16),
        Ty::U16 => i128::from(v as u16),
        Ty::I32 => i128::from(v as i32),
        Ty::U32 => i128::from(v as u32),
        _ => i128::from(v),
    }
}

fn zero_lit(t: &Ty) -> Lit {
    match t {
        Ty::Bool => Lit::Bool(false),
        Ty::F32 | Ty::F64 => Lit::Float(0.0),
        Ty::Str => Lit::Str(String::new()),
        _ => Lit::Int(0),
    }
}
