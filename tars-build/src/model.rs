//! The resolved IDL: modules merged, names looked up, values checked, Rust names chosen.

use crate::error::Span;

/// Every module of the files read, reopened modules merged.
#[derive(Debug, Default)]
pub struct Model {
    /// Modules in order of first appearance.
    pub modules: Vec<Module>,
}

/// A resolved type.
#[derive(Debug, Clone, PartialEq)]
pub enum Ty {
    /// `bool`.
    Bool,
    /// `byte`.
    I8,
    /// `unsigned byte` (a short on the wire).
    U8,
    /// `short`.
    I16,
    /// `unsigned short` (an int on the wire).
    U16,
    /// `int`.
    I32,
    /// `unsigned int` (a long on the wire).
    U32,
    /// `long`.
    I64,
    /// `float`.
    F32,
    /// `double`.
    F64,
    /// `string`.
    Str,
    /// `vector<byte>`: a SimpleList.
    Bytes,
    /// `vector<T>` (T not `byte`); `vector<unsigned byte>` is `Vec(I16)`.
    Vec(Box<Ty>),
    /// `map<K, V>`.
    Map(Box<Ty>, Box<Ty>),
    /// A struct: module index, struct index.
    Struct(usize, usize),
    /// An enum: module index, enum index.
    Enum(usize, usize),
}

/// A checked constant or default value, converted to its type.
#[derive(Debug, Clone, PartialEq)]
pub enum Lit {
    /// An integer, already converted to the target type as C++ would.
    Int(i128),
    /// A floating-point number.
    Float(f64),
    /// A string.
    Str(String),
    /// A bool.
    Bool(bool),
    /// An enumerator: module, enum, variant index.
    Variant(usize, usize, usize),
    /// An enum value no enumerator declares: module, enum, value.
    Undeclared(usize, usize, i32),
}

/// A module.
#[derive(Debug, Default)]
pub struct Module {
    /// IDL name.
    pub idl: String,
    /// Rust module name.
    pub rust: String,
    /// Comments of its first occurrence.
    pub doc: Option<String>,
    /// Where it first appears.
    pub span: Span,
    /// Items in declaration order.
    pub order: Vec<ItemRef>,
    /// Structs.
    pub structs: Vec<Struct>,
    /// Enums.
    pub enums: Vec<Enum>,
    /// Constants.
    pub consts: Vec<Const>,
    /// Interfaces.
    pub interfaces: Vec<Interface>,
}

/// One item of a module, by kind and index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemRef {
    /// `structs[i]`.
    Struct(usize),
    /// `enums[i]`.
    Enum(usize),
    /// `consts[i]`.
    Const(usize),
    /// `interfaces[i]`.
    Interface(usize),
}

/// A struct.
#[derive(Debug)]
pub struct Struct {
    /// IDL name.
    pub idl: String,
    /// Rust name.
    pub rust: String,
    /// Comments.
    pub doc: Option<String>,
    /// Where it is declared.
    pub span: Span,
    /// Fields in tag order (as tars2cpp orders them).
    pub fields: Vec<Field>,
    /// `key[...]` fields (indexes into `fields`) in comparison order.
    pub key: Vec<usize>,
    /// Whether it needs `Ord` (it has a key, or is used inside a map key): then it gets
    /// `Eq` + `Ord` comparing `key` (or every field when there is no key).
    pub ord: bool,
}

/// A struct field.
#[derive(Debug)]
pub struct Field {
    /// IDL name.
    pub idl: String,
    /// Rust name.
    pub rust: String,
    /// Comments.
    pub doc: Option<String>,
    /// The IDL declaration (`0 require string name`).
    pub decl: String,
    /// Where it is declared.
    pub span: Span,
    /// Tag.
    pub tag: u8,
    /// `require`.
    pub require: bool,
    /// Type.
    pub ty: Ty,
    /// The IDL default when it differs from the type's zero value.
    pub default: Option<Lit>,
}

/// An enum.
#[derive(Debug)]
pub struct Enum {
    /// IDL name.
    pub idl: String,
    /// Rust name.
    pub rust: String,
    /// Comments.
    pub doc: Option<String>,
    /// Where it is declared.
    pub span: Span,
    /// Enumerators in declaration order.
    pub variants: Vec<Variant>,
    /// Name of the variant holding undeclared values.
    pub unknown: String,
}

/// An enumerator.
#[derive(Debug)]
pub struct Variant {
    /// IDL name.
    pub idl: String,
    /// Rust name.
    pub rust: String,
    /// Comments.
    pub doc: Option<String>,
    /// Where it is declared.
    pub span: Span,
    /// Value.
    pub value: i32,
}

/// A constant.
#[derive(Debug)]
pub struct Const {
    /// IDL name.
    pub idl: String,
    /// Rust name.
    pub rust: String,
    /// Comments.
    pub doc: Option<String>,
    /// The IDL declaration.
    pub decl: String,
    /// Where it is declared.
    pub span: Span,
    /// Type.
    pub ty: Ty,
    /// Value.
    pub value: Lit,
}

/// An interface.
#[derive(Debug)]
pub struct Interface {
    /// IDL name.
    pub idl: String,
    /// Rust name.
    pub rust: String,
    /// Comments.
    pub doc: Option<String>,
    /// Where it is declared.
    pub span: Span,
    /// Configured as a push interface.
    pub push: bool,
    /// Operations.
    pub ops: Vec<Operation>,
}

/// An operation.
#[derive(Debug)]
pub struct Operation {
    /// IDL (wire) name.
    pub idl: String,
    /// Rust method name.
    pub rust: String,
    /// Comments.
    pub doc: Option<String>,
    /// The IDL declaration.
    pub decl: String,
    /// Where it is declared.
    pub span: Span,
    /// Return type; `None` for void.
    pub ret: Option<Ty>,
    /// Parameters.
    pub params: Vec<Param>,
}

/// A parameter.
#[derive(Debug)]
pub struct Param {
    /// IDL (TUP) name.
    pub idl: String,
    /// Rust name.
    pub rust: String,
    /// Where it is declared.
    pub span: Span,
    /// Type.
    pub ty: Ty,
    /// `out`.
    pub out: bool,
    /// `routekey`.
    pub routekey: bool,
}
