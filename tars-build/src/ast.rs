//! The syntax tree of a `.tars` file, as parsed (names not yet resolved).

use crate::error::Span;

/// A name with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct Ident {
    /// The name as written.
    pub name: String,
    /// Where it is.
    pub span: Span,
}

/// A type as written.
#[derive(Debug, Clone, PartialEq)]
pub enum TypeRef {
    /// `bool`.
    Bool,
    /// `byte`.
    Byte,
    /// `unsigned byte`.
    UByte,
    /// `short`.
    Short,
    /// `unsigned short`.
    UShort,
    /// `int`.
    Int,
    /// `unsigned int`.
    UInt,
    /// `long`.
    Long,
    /// `float`.
    Float,
    /// `double`.
    Double,
    /// `string`.
    String,
    /// `vector<T>` (also a fixed array `T name[N]` and a pointer `byte *name`).
    Vector(Box<TypeRef>),
    /// `map<K, V>`.
    Map(Box<TypeRef>, Box<TypeRef>),
    /// A struct or enum, `Name` or `Module::Name`.
    Named(Vec<Ident>),
}

/// A constant value as written.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// An integer.
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// A string (raw bytes).
    Str(Vec<u8>),
    /// `true` / `false`.
    Bool(bool),
    /// An enumerator, `NAME` or `Module::NAME` or `Module::Enum::NAME`.
    Enum(Vec<Ident>),
}

/// A value with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct ValueAt {
    /// The value.
    pub value: Value,
    /// Where it is.
    pub span: Span,
}

/// `TAG require|optional TYPE NAME [= VALUE]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// Comments.
    pub doc: Option<String>,
    /// The tag.
    pub tag: i64,
    /// Where the tag is.
    pub tag_span: Span,
    /// `require`.
    pub require: bool,
    /// The type.
    pub ty: TypeRef,
    /// The name.
    pub name: Ident,
    /// `= VALUE`.
    pub default: Option<ValueAt>,
}

/// `struct NAME { fields };`
#[derive(Debug, Clone, PartialEq)]
pub struct Struct {
    /// Comments.
    pub doc: Option<String>,
    /// The name.
    pub name: Ident,
    /// Fields in declaration order.
    pub fields: Vec<Field>,
}

/// `key[STRUCT, a, b];`
#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    /// The struct.
    pub target: Vec<Ident>,
    /// Fields, in comparison order.
    pub members: Vec<Ident>,
}

/// One enumerator.
#[derive(Debug, Clone, PartialEq)]
pub struct Enumerator {
    /// Comments.
    pub doc: Option<String>,
    /// The name.
    pub name: Ident,
    /// `= VALUE`.
    pub value: Option<ValueAt>,
}

/// `enum NAME { ... };`
#[derive(Debug, Clone, PartialEq)]
pub struct Enum {
    /// Comments.
    pub doc: Option<String>,
    /// The name.
    pub name: Ident,
    /// Enumerators.
    pub members: Vec<Enumerator>,
}

/// `const TYPE NAME = VALUE;`
#[derive(Debug, Clone, PartialEq)]
pub struct Const {
    /// Comments.
    pub doc: Option<String>,
    /// The type.
    pub ty: TypeRef,
    /// The name.
    pub name: Ident,
    /// The value.
    pub value: ValueAt,
}

/// One operation parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    /// The type.
    pub ty: TypeRef,
    /// The name.
    pub name: Ident,
    /// `out`.
    pub out: bool,
    /// `routekey`.
    pub routekey: bool,
}

/// `RET NAME(params);`
#[derive(Debug, Clone, PartialEq)]
pub struct Operation {
    /// Comments.
    pub doc: Option<String>,
    /// The name.
    pub name: Ident,
    /// The return type; `None` for `void`.
    pub ret: Option<TypeRef>,
    /// Parameters in order.
    pub params: Vec<Param>,
}

/// `interface NAME { ops };`
#[derive(Debug, Clone, PartialEq)]
pub struct Interface {
    /// Comments.
    pub doc: Option<String>,
    /// The name.
    pub name: Ident,
    /// Operations.
    pub ops: Vec<Operation>,
}

/// A definition inside a module.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// A struct.
    Struct(Struct),
    /// A key declaration.
    Key(Key),
    /// An enum.
    Enum(Enum),
    /// A constant.
    Const(Const),
    /// An interface.
    Interface(Interface),
}

/// `module NAME { items };` (one occurrence; a module may be reopened).
#[derive(Debug, Clone, PartialEq)]
pub struct Module {
    /// Comments.
    pub doc: Option<String>,
    /// The name.
    pub name: Ident,
    /// Definitions in order.
    pub items: Vec<Item>,
}

/// One top-level definition of a file, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum TopLevel {
    /// `#include "path"`, with where it is.
    Include(String, Span),
    /// A module.
    Module(Module),
}
