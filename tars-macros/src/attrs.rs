//! Parsing of `#[tars(...)]` attributes.

use syn::{Attribute, Expr, LitInt, LitStr};

/// Everything `#[tars(...)]` may say on a field, variant or container.
#[derive(Default)]
pub struct TarsAttrs {
    pub tag: Option<(u8, proc_macro2::Span)>,
    pub require: bool,
    pub default: Option<Expr>,
    pub name: Option<LitStr>,
    pub value: Option<i32>,
    pub unknown: bool,
}

impl TarsAttrs {
    /// Parses every `#[tars(...)]` among `attrs`; other attributes are ignored.
    pub fn parse(attrs: &[Attribute]) -> syn::Result<Self> {
        let mut out = TarsAttrs::default();
        for attr in attrs.iter().filter(|a| a.path().is_ident("tars")) {
            attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("tag") {
                    let lit: LitInt = meta.value()?.parse()?;
                    let tag = lit.base10_parse::<u8>().map_err(|_| {
                        syn::Error::new(lit.span(), "a TARS tag must be between 0 and 255")
                    })?;
                    out.tag = Some((tag, lit.span()));
                } else if meta.path.is_ident("require") {
                    out.require = true;
                } else if meta.path.is_ident("optional") {
                    out.require = false;
                } else if meta.path.is_ident("default") {
                    out.default = Some(meta.value()?.parse()?);
                } else if meta.path.is_ident("name") {
                    out.name = Some(meta.value()?.parse()?);
                } else if meta.path.is_ident("value") {
                    out.value = Some(parse_i32(&meta.value()?.parse()?)?);
                } else if meta.path.is_ident("unknown") {
                    out.unknown = true;
                } else {
                    return Err(meta.error(
                        "unknown tars attribute; expected one of: tag, require, optional, \
                         default, name, value, unknown",
                    ));
                }
                Ok(())
            })?;
        }
        Ok(out)
    }
}

/// Reads an integer literal, optionally negated, as i32.
pub fn parse_i32(expr: &Expr) -> syn::Result<i32> {
    match expr {
        Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Int(lit),
            ..
        }) => lit.base10_parse(),
        Expr::Unary(syn::ExprUnary {
            op: syn::UnOp::Neg(_),
            expr,
            ..
        }) => parse_i32(expr).map(|v| v.wrapping_neg()),
        Expr::Group(g) => parse_i32(&g.expr),
        Expr::Paren(p) => parse_i32(&p.expr),
        other => Err(syn::Error::new_spanned(
            other,
            "expected an integer literal",
        )),
    }
}
