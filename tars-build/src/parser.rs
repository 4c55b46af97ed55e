//! Recursive-descent parser for the grammar of TarsCpp's `tars.y`.
//!
//! Strict as tars2cpp (every definition ends with `;`, struct members need a tag and
//! `require`/`optional`, keywords are no names, modules do not nest), except that a
//! module's closing `}` may go without `;`, as tars2php files write it.

use crate::ast::*;
use crate::error::{Error, Span};
use crate::lexer::{Tok, Token};

/// A parsed file: its `#include`s and its modules.
#[derive(Debug, Default)]
pub struct ParsedFile {
    /// `#include "..."` paths as written, with positions.
    pub includes: Vec<(String, Span)>,
    /// Modules in order.
    pub modules: Vec<Module>,
}

/// The reserved words of the IDL.
pub const KEYWORDS: [&str; 24] = [
    "void",
    "struct",
    "bool",
    "byte",
    "short",
    "int",
    "double",
    "float",
    "long",
    "string",
    "vector",
    "map",
    "key",
    "routekey",
    "module",
    "interface",
    "out",
    "require",
    "optional",
    "false",
    "true",
    "enum",
    "const",
    "unsigned",
];

/// Parses the tokens of one file.
pub fn parse(tokens: Vec<Token>) -> Result<ParsedFile, Error> {
    let mut p = Parser { tokens, pos: 0 };
    let mut file = ParsedFile::default();
    loop {
        p.includes(&mut file.includes);
        let t = p.peek().clone();
        match &t.tok {
            Tok::Eof => return Ok(file),
            Tok::Word(w) if w == "module" => {
                let m = p.module(&mut file.includes)?;
                file.modules.push(m);
                // tars2php ends modules without `;`: accept both.
                p.eat_punct(';');
            }
            Tok::Word(w)
                if ["struct", "enum", "const", "interface", "key"].contains(&w.as_str()) =>
            {
                return Err(Error::at(
                    t.span,
                    format!("`{w}` must be defined inside a module"),
                ));
            }
            _ => return Err(p.unexpected("`module` or `#include`")),
        }
    }
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> &Token {
        &self.tokens[self.pos.min(self.tokens.len() - 1)]
    }

    fn peek_at(&self, n: usize) -> &Token {
        &self.tokens[(self.pos + n).min(self.tokens.len() - 1)]
    }

    fn next(&mut self) -> Token {
        let t = self.peek().clone();
        if self.pos < self.tokens.len() {
            self.pos += 1;
        }
        t
    }

    fn unexpected(&self, expected: &str) -> Error {
        let t = self.peek();
        Error::at(
            t.span,
            format!("expected {expected}, found {}", t.tok.describe()),
        )
    }

    fn includes(&mut self, out: &mut Vec<(String, Span)>) {
        while let Tok::Include(path) = &self.peek().tok {
            out.push((path.clone(), self.peek().span));
            self.pos += 1;
        }
    }

    fn is_word(&self, w: &str) -> bool {
        matches!(&self.peek().tok, Tok::Word(x) if x == w)
    }

    fn eat_word(&mut self, w: &str) -> bool {
        let yes = self.is_word(w);
        if yes {
            self.pos += 1;
        }
        yes
    }

    fn eat_punct(&mut self, c: char) -> bool {
        let yes = self.peek().tok == Tok::Punct(c);
        if yes {
            self.pos += 1;
        }
        yes
    }

    fn expect_punct(&mut self, c: char, after: &str) -> Result<Token, Error> {
        if self.peek().tok == Tok::Punct(c) {
            return Ok(self.next());
        }
        Err(self.unexpected(&format!("`{c}` {after}")))
    }

    /// An identifier that is not a keyword; `what` names it in errors.
    fn ident(&mut self, what: &str) -> Result<Ident, Error> {
        let t = self.peek().clone();
        match &t.tok {
            Tok::Word(w) if KEYWORDS.contains(&w.as_str()) => Err(Error::at(
                t.span,
                format!("keyword `{w}` cannot be used as {what}"),
            )),
            Tok::Word(w) => {
                self.pos += 1;
                Ok(Ident {
                    name: w.clone(),
                    span: t.span,
                })
            }
            _ => Err(self.unexpected(what)),
        }
    }

    /// `;` after a definition; returns the comment trailing it.
    fn end_definition(&mut self, what: &str) -> Result<Option<String>, Error> {
        if self.peek().tok == Tok::Punct(';') {
            return Ok(self.next().trailing);
        }
        Err(self.unexpected(&format!("`;` after {what}")))
    }

    fn module(&mut self, includes: &mut Vec<(String, Span)>) -> Result<Module, Error> {
        let doc = self.next().doc;
        let name = self.ident("a module name")?;
        self.expect_punct('{', "to open the module")?;
        let mut items = Vec::new();
        loop {
            self.includes(includes);
            let t = self.peek().clone();
            let item = match &t.tok {
                Tok::Punct('}') => {
                    self.pos += 1;
                    return Ok(Module { doc, name, items });
                }
                Tok::Word(w) => match w.as_str() {
                    "struct" => Item::Struct(self.struct_def()?),
                    "enum" => Item::Enum(self.enum_def()?),
                    "const" => Item::Const(self.const_def()?),
                    "interface" => Item::Interface(self.interface_def()?),
                    "key" => Item::Key(self.key_def()?),
                    "module" => {
                        return Err(Error::at(t.span, "modules cannot be nested"));
                    }
                    _ => {
                        return Err(self.unexpected(
                            "a definition (struct, enum, const, interface, key) or `}`",
                        ))
                    }
                },
                _ => {
                    return Err(self
                        .unexpected("a definition (struct, enum, const, interface, key) or `}`"))
                }
            };
            let what = match &item {
                Item::Struct(_) => "a struct",
                Item::Enum(_) => "an enum",
                Item::Const(_) => "a const",
                Item::Interface(_) => "an interface",
                Item::Key(_) => "a key",
            };
            self.end_definition(what)?;
            items.push(item);
        }
    }

    fn struct_def(&mut self) -> Result<Struct, Error> {
        let doc = self.next().doc;
        let name = self.ident("a struct name")?;
        self.expect_punct('{', "to open the struct")?;
        let mut fields = Vec::new();
        while !self.eat_punct('}') {
            let mut field = self.field()?;
            let trailing = self.end_definition("a struct member")?;
            if field.doc.is_none() {
                field.doc = trailing;
            }
            fields.push(field);
        }
        if fields.is_empty() {
            return Err(Error::at(
                name.span,
                format!("struct `{}` must have at least one member", name.name),
            ));
        }
        Ok(Struct { doc, name, fields })
    }

    fn field(&mut self) -> Result<Field, Error> {
        let t = self.peek().clone();
        let tag = match t.tok {
            Tok::Int(v) => {
                self.pos += 1;
                v
            }
            Tok::Word(ref w) if w == "require" || w == "optional" => {
                return Err(Error::at(
                    t.span,
                    "struct member needs a tag before `require`/`optional`",
                ));
            }
            Tok::Punct('}') | Tok::Eof => return Err(self.unexpected("a struct member or `}`")),
            _ => return Err(self.unexpected("a struct member (`TAG require|optional TYPE NAME`)")),
        };
        if !(0..=255).contains(&tag) {
            return Err(Error::at(
                t.span,
                format!("struct member tag {tag} is out of range: tags are 0 to 255"),
            ));
        }
        let require = if self.eat_word("require") {
            true
        } else if self.eat_word("optional") {
            false
        } else {
            return Err(self.unexpected("`require` or `optional` after the tag"));
        };
        let (ty, name) = self.type_id("a struct member name")?;
        let default = if self.eat_punct('=') {
            Some(self.value()?)
        } else {
            None
        };
        Ok(Field {
            doc: t.doc,
            tag,
            tag_span: t.span,
            require,
            ty,
            name,
            default,
        })
    }

    fn key_def(&mut self) -> Result<Key, Error> {
        self.pos += 1;
        self.expect_punct('[', "after `key`")?;
        let target = self.scoped_name("a struct name")?;
        self.expect_punct(',', "after the struct name of a key")?;
        let mut members = vec![self.ident("a key member")?];
        while self.eat_punct(',') {
            members.push(self.ident("a key member")?);
        }
        self.expect_punct(']', "to close the key")?;
        Ok(Key { target, members })
    }

    fn enum_def(&mut self) -> Result<Enum, Error> {
        let doc = self.next().doc;
        let name = self.ident("an enum name")?;
        self.expect_punct('{', "to open the enum")?;
        let mut members = Vec::new();
        loop {
            // Empty enumerators are allowed (`A, B,` or `A,,B`), as in tars.y.
            if self.eat_punct('}') {
                break;
            }
            if self.peek().tok != Tok::Punct(',') {
                let t = self.peek().clone();
                let member_name = self.ident("an enumerator")?;
                let value = if self.eat_punct('=') {
                    Some(self.value()?)
                } else {
                    None
                };
                let doc = t.doc.or_else(|| {
                    // `A = 1, // comment`
                    let next = self.peek();
                    (next.tok == Tok::Punct(','))
                        .then(|| next.trailing.clone())
                        .flatten()
                });
                members.push(Enumerator {
                    doc,
                    name: member_name,
                    value,
                });
            }
            if self.eat_punct('}') {
                break;
            }
            self.expect_punct(',', "or `}` after an enumerator")?;
        }
        Ok(Enum { doc, name, members })
    }

    fn const_def(&mut self) -> Result<Const, Error> {
        let doc = self.next().doc;
        let (ty, name) = self.type_id("a const name")?;
        self.expect_punct('=', "and a value after the const name")?;
        let value = self.value()?;
        Ok(Const {
            doc,
            ty,
            name,
            value,
        })
    }

    fn interface_def(&mut self) -> Result<Interface, Error> {
        let doc = self.next().doc;
        let name = self.ident("an interface name")?;
        self.expect_punct('{', "to open the interface")?;
        let mut ops = Vec::new();
        while !self.eat_punct('}') {
            let mut op = self.operation()?;
            let trailing = self.end_definition("an operation")?;
            if op.doc.is_none() {
                op.doc = trailing;
            }
            ops.push(op);
        }
        Ok(Interface { doc, name, ops })
    }

    fn operation(&mut self) -> Result<Operation, Error> {
        let doc = self.peek().doc.clone();
        let ret = if self.eat_word("void") {
            None
        } else {
            Some(self.ty()?)
        };
        let t = self.next();
        let Tok::Op(op_name) = t.tok else {
            self.pos -= 1;
            return Err(self.unexpected("an operation name followed by `(`"));
        };
        let name = Ident {
            name: op_name,
            span: t.span,
        };
        let mut params = Vec::new();
        if !self.eat_punct(')') {
            loop {
                let out = self.eat_word("out");
                let routekey = !out && self.eat_word("routekey");
                if (out || routekey) && matches!(self.peek().tok, Tok::Punct(',') | Tok::Punct(')'))
                {
                    let q = if out { "out" } else { "routekey" };
                    return Err(self.unexpected(&format!("a type after `{q}`")));
                }
                let (ty, pname) = self.type_id("a parameter name")?;
                params.push(Param {
                    ty,
                    name: pname,
                    out,
                    routekey,
                });
                if self.eat_punct(')') {
                    break;
                }
                self.expect_punct(',', "or `)` after a parameter")?;
            }
        }
        Ok(Operation {
            doc,
            name,
            ret,
            params,
        })
    }

    /// `TYPE NAME`, `TYPE NAME[N]`, `TYPE NAME:N`, `TYPE *NAME` (the array and pointer
    /// forms are vectors on the wire, as in tars2cpp).
    fn type_id(&mut self, what: &str) -> Result<(TypeRef, Ident), Error> {
        let ty_span = self.peek().span;
        let ty = self.ty()?;
        if self.eat_punct('*') {
            let name = self.ident(what)?;
            if ty != TypeRef::Byte {
                return Err(Error::at(ty_span, "only `byte *` can be a pointer type"));
            }
            return Ok((TypeRef::Vector(Box::new(ty)), name));
        }
        if matches!(self.peek().tok, Tok::Op(_)) {
            return Err(self.unexpected(what));
        }
        let name = self.ident(what)?;
        if self.eat_punct('[') {
            self.array_size()?;
            self.expect_punct(']', "to close the array size")?;
            return Ok((TypeRef::Vector(Box::new(ty)), name));
        }
        if self.eat_punct(':') {
            self.array_size()?;
            check_sized(&ty, ty_span)?;
        }
        Ok((ty, name))
    }

    fn array_size(&mut self) -> Result<i64, Error> {
        let t = self.next();
        match t.tok {
            Tok::Int(n) if (1..1024 * 1024).contains(&n) => Ok(n),
            Tok::Int(_) => Err(Error::at(t.span, "array size must be 1 to 1048575")),
            _ => {
                self.pos -= 1;
                Err(self.unexpected("an array size"))
            }
        }
    }

    fn ty(&mut self) -> Result<TypeRef, Error> {
        let span = self.peek().span;
        let ty = self.type_no()?;
        if self.peek().tok == Tok::Punct(':') && matches!(self.peek_at(1).tok, Tok::Int(_)) {
            self.pos += 1;
            self.array_size()?;
            check_sized(&ty, span)?;
        }
        Ok(ty)
    }

    fn type_no(&mut self) -> Result<TypeRef, Error> {
        let t = self.peek().clone();
        let Tok::Word(w) = &t.tok else {
            if t.tok == Tok::Scope {
                return Ok(TypeRef::Named(self.scoped_name("a type")?));
            }
            return Err(self.unexpected("a type"));
        };
        let simple = match w.as_str() {
            "bool" => Some(TypeRef::Bool),
            "byte" => Some(TypeRef::Byte),
            "short" => Some(TypeRef::Short),
            "int" => Some(TypeRef::Int),
            "long" => Some(TypeRef::Long),
            "float" => Some(TypeRef::Float),
            "double" => Some(TypeRef::Double),
            "string" => Some(TypeRef::String),
            _ => None,
        };
        if let Some(ty) = simple {
            self.pos += 1;
            return Ok(ty);
        }
        match w.as_str() {
            "unsigned" => {
                self.pos += 1;
                let ty = if self.eat_word("byte") {
                    TypeRef::UByte
                } else if self.eat_word("short") {
                    TypeRef::UShort
                } else if self.eat_word("int") {
                    TypeRef::UInt
                } else {
                    return Err(self.unexpected("`byte`, `short` or `int` after `unsigned`"));
                };
                Ok(ty)
            }
            "vector" => {
                self.pos += 1;
                self.expect_punct('<', "after `vector`")?;
                let inner = self.ty()?;
                self.expect_punct('>', "to close `vector<`")?;
                Ok(TypeRef::Vector(Box::new(inner)))
            }
            "map" => {
                self.pos += 1;
                self.expect_punct('<', "after `map`")?;
                let k = self.ty()?;
                self.expect_punct(',', "between the key and value types of a map")?;
                let v = self.ty()?;
                self.expect_punct('>', "to close `map<`")?;
                Ok(TypeRef::Map(Box::new(k), Box::new(v)))
            }
            kw if KEYWORDS.contains(&kw) => Err(self.unexpected("a type")),
            _ => Ok(TypeRef::Named(self.scoped_name("a type")?)),
        }
    }

    /// `Name`, `A::Name` or `::A::Name` (the leading `::` is dropped).
    fn scoped_name(&mut self, what: &str) -> Result<Vec<Ident>, Error> {
        self.eat_scope();
        let mut parts = vec![self.ident(what)?];
        while self.peek().tok == Tok::Scope {
            self.pos += 1;
            parts.push(self.ident(what)?);
        }
        Ok(parts)
    }

    fn eat_scope(&mut self) -> bool {
        let yes = self.peek().tok == Tok::Scope;
        if yes {
            self.pos += 1;
        }
        yes
    }

    fn value(&mut self) -> Result<ValueAt, Error> {
        let t = self.peek().clone();
        let value = match &t.tok {
            Tok::Int(v) => Value::Int(*v),
            Tok::Float(v) => Value::Float(*v),
            Tok::Str(s) => Value::Str(s.clone()),
            Tok::Word(w) if w == "true" => Value::Bool(true),
            Tok::Word(w) if w == "false" => Value::Bool(false),
            Tok::Word(w) if !KEYWORDS.contains(&w.as_str()) => {
                return Ok(ValueAt {
                    value: Value::Enum(self.scoped_name("an enumerator")?),
                    span: t.span,
                })
            }
            Tok::Scope => {
                return Ok(ValueAt {
                    value: Value::Enum(self.scoped_name("an enumerator")?),
                    span: t.span,
                })
            }
            _ => {
                return Err(self
                    .unexpected("a value (integer, number, string, true, false or an enumerator)"))
            }
        };
        self.pos += 1;
        Ok(ValueAt {
            value,
            span: t.span,
        })
    }
}

/// `T:N` (a fixed size) is only for strings and vectors, as tars2cpp checks.
fn check_sized(ty: &TypeRef, span: Span) -> Result<(), Error> {
    match ty {
        TypeRef::String | TypeRef::Vector(_) => Ok(()),
        _ => Err(Error::at(
            span,
            "only string or vector can have a fixed size",
        )),
    }
}
