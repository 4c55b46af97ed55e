//! `#[tars_interface]` and `#[tars_push]` traits.

use super::doc_attrs;
use super::types::{ident, Types};
use crate::model::{Interface, Operation};
use crate::naming::lower_camel;
use proc_macro2::TokenStream;
use quote::quote;

/// The trait of an interface; a push interface gets `#[tars_push]`.
pub fn interface(t: &Types, i: &Interface) -> TokenStream {
    let name = ident(&i.rust);
    let default_doc = if i.push {
        format!(
            "`interface {}`, a push interface: server sender and client callbacks.",
            i.idl
        )
    } else {
        format!("`interface {}`.", i.idl)
    };
    let doc = doc_attrs(i.doc.as_deref(), &default_doc);
    let methods = i.ops.iter().map(|op| method(t, op, i.push));
    let attr = if i.push {
        quote!(#[::tars_core::tars_push])
    } else {
        quote!(#[::tars_core::tars_interface])
    };
    quote! {
        #doc
        #attr
        pub trait #name {
            #(#methods)*
        }
    }
}

fn method(t: &Types, op: &Operation, push: bool) -> TokenStream {
    let name = ident(&op.rust);
    let doc = doc_attrs(op.doc.as_deref(), &format!("`{}`", op.decl));
    let wire = (lower_camel(&op.rust) != op.idl).then(|| {
        let idl = &op.idl;
        quote!(#[tars(name = #idl)])
    });
    let current = (!push).then(|| quote!(current: &::tars_core::Current,));
    let params = op.params.iter().map(|p| {
        let pname = ident(&p.rust);
        let ty = t.ty(&p.ty);
        let ty = if p.out { quote!(&mut #ty) } else { ty };
        let wire = (lower_camel(&p.rust) != p.idl).then(|| {
            let idl = &p.idl;
            quote!(#[tars(name = #idl)])
        });
        quote!(#wire #pname: #ty)
    });
    let ret = match &op.ret {
        Some(r) => t.ty(r),
        None => quote!(()),
    };
    let many = op.params.len() + usize::from(!push) + 1 > 7;
    let allow = many.then(|| quote!(#[allow(clippy::too_many_arguments)]));
    quote! {
        #doc
        #wire
        #allow
        async fn #name(&self, #current #(#params),*) -> ::tars_core::TarsResult<#ret>;
    }
}
