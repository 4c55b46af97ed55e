//! Rust types and literals for resolved IDL types and values.

use crate::model::{Lit, Model, Ty};
use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote};
use std::cell::Cell;

/// Spells types as seen from one module.
pub struct Types<'a> {
    /// The whole model (for names in other modules).
    pub model: &'a Model,
    /// The module being generated.
    pub module: usize,
    /// Whether a module item is named `String`/`Vec`: then the std types get full paths.
    pub full_string: bool,
    /// See `full_string`.
    pub full_vec: bool,
    /// Set when a `BTreeMap` is spelled (the module then imports it).
    pub uses_map: Cell<bool>,
    /// Whether a module item is named `BTreeMap` (then maps use the full path).
    pub full_map: bool,
}

/// An identifier token, raw when it needs to be.
pub fn ident(name: &str) -> proc_macro2::Ident {
    match name.strip_prefix("r#") {
        Some(raw) => proc_macro2::Ident::new_raw(raw, proc_macro2::Span::call_site()),
        None => format_ident!("{}", name),
    }
}

impl Types<'_> {
    /// The Rust type of `t`.
    pub fn ty(&self, t: &Ty) -> TokenStream {
        match t {
            Ty::Bool => quote!(bool),
            Ty::I8 => quote!(i8),
            Ty::U8 => quote!(u8),
            Ty::I16 => quote!(i16),
            Ty::U16 => quote!(u16),
            Ty::I32 => quote!(i32),
            Ty::U32 => quote!(u32),
            Ty::I64 => quote!(i64),
            Ty::F32 => quote!(f32),
            Ty::F64 => quote!(f64),
            Ty::Str => self.string(),
            Ty::Bytes => {
                let v = self.vec();
                quote!(#v<u8>)
            }
            Ty::Vec(inner) => {
                let v = self.vec();
                let inner = self.ty(inner);
                quote!(#v<#inner>)
            }
            Ty::Map(k, v) => {
                let (k, v) = (self.ty(k), self.ty(v));
                if self.full_map {
                    quote!(::std::collections::BTreeMap<#k, #v>)
                } else {
                    self.uses_map.set(true);
                    quote!(BTreeMap<#k, #v>)
                }
            }
            Ty::Struct(m, i) => self.path(*m, &self.model.modules[*m].structs[*i].rust),
            Ty::Enum(m, i) => self.path(*m, &self.model.modules[*m].enums[*i].rust),
        }
    }

    fn string(&self) -> TokenStream {
        if self.full_string {
            quote!(::std::string::String)
        } else {
            quote!(String)
        }
    }

    fn vec(&self) -> TokenStream {
        if self.full_vec {
            quote!(::std::vec::Vec)
        } else {
            quote!(Vec)
        }
    }

    /// `Name` in this module, `super::module::Name` in another.
    pub fn path(&self, module: usize, name: &str) -> TokenStream {
        let name = ident(name);
        if module == self.module {
            quote!(#name)
        } else {
            let m = ident(&self.model.modules[module].rust);
            quote!(super::#m::#name)
        }
    }

    /// `value` as an expression of type `t`.
    pub fn lit(&self, t: &Ty, value: &Lit) -> TokenStream {
        match value {
            Lit::Int(v) => int_lit(t, *v),
            Lit::Float(f) => float_lit(t, *f),
            Lit::Str(s) => quote!(#s),
            Lit::Bool(b) => quote!(#b),
            Lit::Variant(m, e, v) => {
                let e_def = &self.model.modules[*m].enums[*e];
                let path = self.path(*m, &e_def.rust);
                let variant = ident(&e_def.variants[*v].rust);
                quote!(#path::#variant)
            }
            Lit::Undeclared(m, e, v) => {
                let e_def = &self.model.modules[*m].enums[*e];
                let path = self.path(*m, &e_def.rust);
                let unknown = ident(&e_def.unknown);
                let v = int_lit(&Ty::I32, i128::from(*v));
                quote!(#path::#unknown(#v))
            }
        }
    }
}

fn int_lit(t: &Ty, v: i128) -> TokenStream {
    if t == &Ty::I64 && v == i128::from(i64::MIN) {
        return quote!(i64::MIN);
    }
    if t == &Ty::I32 && v == i128::from(i32::MIN) {
        return quote!(i32::MIN);
    }
    let abs = Literal::u128_unsuffixed(v.unsigned_abs());
    if v < 0 {
        quote!(-#abs)
    } else {
        quote!(#abs)
    }
}

fn float_lit(t: &Ty, f: f64) -> TokenStream {
    let abs = if t == &Ty::F32 {
        Literal::f32_unsuffixed(f.abs() as f32)
    } else {
        Literal::f64_unsuffixed(f.abs())
    };
    if f < 0.0 {
        quote!(-#abs)
    } else {
        quote!(#abs)
    }
}

/// Whether `t` holds a float (clippy's float lints then get allowed on literals).
pub fn is_float(t: &Ty) -> bool {
    matches!(t, Ty::F32 | Ty::F64)
}
