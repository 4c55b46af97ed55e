//! Structs, enums and constants.

use super::types::{ident, is_float, Types};
use super::{doc_attrs, is_floatish_lit};
use crate::model::{Const, Enum, Struct, Ty};
use crate::naming::{is_camel, is_upper};
use proc_macro2::TokenStream;
use quote::quote;

/// `#[derive(TarsStruct)]`, plus `Eq`/`Ord` by the `key[...]` fields when needed.
pub fn structure(t: &Types, module: &str, s: &Struct) -> TokenStream {
    let name = ident(&s.rust);
    let class = format!("{module}.{}", s.idl);
    let doc = doc_attrs(s.doc.as_deref(), &format!("`struct {}`", s.idl));
    let mut allow = Vec::new();
    if !is_camel(&s.rust) {
        allow.push(quote!(non_camel_case_types));
    }
    let mut float_default = false;
    let fields = s.fields.iter().map(|f| {
        let fname = ident(&f.rust);
        let ty = t.ty(&f.ty);
        let doc = doc_attrs(f.doc.as_deref(), &format!("`{}`", f.decl));
        let tag = proc_macro2::Literal::u8_unsuffixed(f.tag);
        let attr = match (&f.default, f.require) {
            (_, true) => quote!(#[tars(tag = #tag, require)]),
            (Some(d), false) => {
                float_default |= is_float(&f.ty) && is_floatish_lit(d);
                let d = t.lit(&f.ty, d);
                quote!(#[tars(tag = #tag, default = #d)])
            }
            (None, false) => quote!(#[tars(tag = #tag)]),
        };
        quote! { #doc #attr pub #fname: #ty, }
    });
    let fields: Vec<TokenStream> = fields.collect();
    if float_default {
        allow.push(quote!(clippy::approx_constant));
        allow.push(quote!(clippy::excessive_precision));
    }
    let allow = (!allow.is_empty()).then(|| quote!(#[allow(#(#allow),*)]));
    let ord = s.ord.then(|| ord_impl(s));
    quote! {
        #doc
        #[derive(Debug, Clone, PartialEq, ::tars_core::TarsStruct)]
        #[tars(name = #class)]
        #allow
        pub struct #name {
            #(#fields)*
        }
        #ord
    }
}

/// `Ord` by the key fields in key order (every field in tag order without a key), as
/// tars2cpp's `operator<`; `Eq` is declared so the struct can be a `BTreeMap` key.
fn ord_impl(s: &Struct) -> TokenStream {
    let name = ident(&s.rust);
    let order: Vec<usize> = if s.key.is_empty() {
        (0..s.fields.len()).collect()
    } else {
        s.key.clone()
    };
    let cmps = order.iter().map(|&i| {
        let f = ident(&s.fields[i].rust);
        match s.fields[i].ty {
            Ty::F32 | Ty::F64 => quote!(self.#f.total_cmp(&other.#f)),
            _ => quote!(::core::cmp::Ord::cmp(&self.#f, &other.#f)),
        }
    });
    let keys = order
        .iter()
        .map(|&i| s.fields[i].idl.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let doc = format!(
        "Orders by `{keys}`, in that order (the IDL `key[{}, {keys}]`).",
        s.idl
    );
    quote! {
        impl ::core::cmp::Eq for #name {}

        impl ::core::cmp::PartialOrd for #name {
            fn partial_cmp(&self, other: &Self) -> ::core::option::Option<::core::cmp::Ordering> {
                ::core::option::Option::Some(::core::cmp::Ord::cmp(self, other))
            }
        }

        #[doc = #doc]
        impl ::core::cmp::Ord for #name {
            fn cmp(&self, other: &Self) -> ::core::cmp::Ordering {
                ::core::cmp::Ordering::Equal #( .then_with(|| #cmps) )*
            }
        }
    }
}

/// `#[derive(TarsEnum)]` with an `Unknown(i32)` variant, compared and hashed by value.
pub fn enumeration(module: &str, e: &Enum) -> TokenStream {
    let name = ident(&e.rust);
    let class = format!("{module}.{}", e.idl);
    let doc = doc_attrs(e.doc.as_deref(), &format!("`enum {}`", e.idl));
    let variants = e.variants.iter().map(|v| {
        let vname = ident(&v.rust);
        let doc = doc_attrs(v.doc.as_deref(), &format!("`{} = {}`", v.idl, v.value));
        let value = proc_macro2::Literal::i32_unsuffixed(v.value.abs());
        let value = if v.value < 0 {
            quote!(-#value)
        } else {
            quote!(#value)
        };
        quote! { #doc #[tars(value = #value)] #vname, }
    });
    let unknown = ident(&e.unknown);
    let allow = (!is_camel(&e.rust)).then(|| quote!(#[allow(non_camel_case_types)]));
    quote! {
        #doc
        #[derive(Debug, Clone, Copy, ::tars_core::TarsEnum)]
        #[tars(name = #class)]
        #allow
        pub enum #name {
            #(#variants)*
            /// A value this IDL does not declare (kept as is, as TarsCpp does).
            #[tars(unknown)]
            #unknown(i32),
        }

        impl ::core::cmp::PartialEq for #name {
            fn eq(&self, other: &Self) -> bool {
                self.value() == other.value()
            }
        }

        impl ::core::cmp::Eq for #name {}

        impl ::core::hash::Hash for #name {
            fn hash<H: ::core::hash::Hasher>(&self, state: &mut H) {
                ::core::hash::Hash::hash(&self.value(), state);
            }
        }

        impl ::core::cmp::PartialOrd for #name {
            fn partial_cmp(&self, other: &Self) -> ::core::option::Option<::core::cmp::Ordering> {
                ::core::option::Option::Some(::core::cmp::Ord::cmp(self, other))
            }
        }

        /// Orders by value, as C++ compares enums.
        impl ::core::cmp::Ord for #name {
            fn cmp(&self, other: &Self) -> ::core::cmp::Ordering {
                self.value().cmp(&other.value())
            }
        }
    }
}

/// `pub const NAME: T = value;` (`&str` for strings).
pub fn constant(t: &Types, c: &Const) -> TokenStream {
    let name = ident(&c.rust);
    let ty = match c.ty {
        Ty::Str => quote!(&str),
        ref other => t.ty(other),
    };
    let value = t.lit(&c.ty, &c.value);
    let doc = doc_attrs(c.doc.as_deref(), &format!("`{}`", c.decl));
    let mut allow = Vec::new();
    if !is_upper(&c.rust) {
        allow.push(quote!(non_upper_case_globals));
    }
    if is_float(&c.ty) {
        allow.push(quote!(clippy::approx_constant));
        allow.push(quote!(clippy::excessive_precision));
    }
    let allow = (!allow.is_empty()).then(|| quote!(#[allow(#(#allow),*)]));
    quote! { #doc #allow pub const #name: #ty = #value; }
}
