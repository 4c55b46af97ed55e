//! IDL text of types, values and declarations, for messages and rustdoc.

use crate::ast::{self, TypeRef, Value};

/// A scoped name as written.
pub fn path_text(path: &[ast::Ident]) -> String {
    path.iter()
        .map(|p| p.name.as_str())
        .collect::<Vec<_>>()
        .join("::")
}

/// A type as IDL text.
pub fn idl_type(t: &TypeRef) -> String {
    match t {
        TypeRef::Bool => "bool".into(),
        TypeRef::Byte => "byte".into(),
        TypeRef::UByte => "unsigned byte".into(),
        TypeRef::Short => "short".into(),
        TypeRef::UShort => "unsigned short".into(),
        TypeRef::Int => "int".into(),
        TypeRef::UInt => "unsigned int".into(),
        TypeRef::Long => "long".into(),
        TypeRef::Float => "float".into(),
        TypeRef::Double => "double".into(),
        TypeRef::String => "string".into(),
        TypeRef::Vector(i) => format!("vector<{}>", idl_type(i)),
        TypeRef::Map(k, v) => format!("map<{}, {}>", idl_type(k), idl_type(v)),
        TypeRef::Named(p) => path_text(p),
    }
}

pub(super) fn value_text(v: &Value) -> String {
    match v {
        Value::Int(i) => i.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Str(s) => format!("{:?}", String::from_utf8_lossy(s)),
        Value::Bool(b) => b.to_string(),
        Value::Enum(p) => path_text(p),
    }
}

pub(super) fn op_decl(op: &ast::Operation) -> String {
    let ret = op.ret.as_ref().map_or("void".to_string(), idl_type);
    let params: Vec<String> = op
        .params
        .iter()
        .map(|p| {
            let q = if p.out {
                "out "
            } else if p.routekey {
                "routekey "
            } else {
                ""
            };
            format!("{q}{} {}", idl_type(&p.ty), p.name.name)
        })
        .collect();
    format!("{ret} {}({})", op.name.name, params.join(", "))
}
