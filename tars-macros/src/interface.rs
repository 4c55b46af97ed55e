//! `#[tars_interface]`: a trait becomes a TARS interface with a server dispatcher
//! (`<Trait>Servant`) and a typed client proxy (`<Trait>Proxy`).

use crate::method::{borrowed_param_type, is_by_value, local, Operation, Param};
use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::{ItemTrait, TraitItem};

pub fn expand(item: ItemTrait) -> syn::Result<TokenStream> {
    if !item.generics.params.is_empty() {
        return Err(syn::Error::new_spanned(
            &item.generics,
            "a TARS interface cannot be generic",
        ));
    }
    let mut ops = Vec::new();
    let mut methods = Vec::new();
    for trait_item in &item.items {
        let TraitItem::Fn(method) = trait_item else {
            return Err(syn::Error::new_spanned(
                trait_item,
                "a TARS interface holds only `async fn` methods",
            ));
        };
        if method.sig.ident == "do_close" {
            return Err(syn::Error::new_spanned(
                &method.sig.ident,
                "`do_close` is provided by #[tars_interface]; override it in your impl instead",
            ));
        }
        let op = Operation::parse(method)?;
        if let Some(other) = ops
            .iter()
            .find(|o: &&Operation| o.wire_name == op.wire_name)
        {
            return Err(syn::Error::new_spanned(
                &method.sig.ident,
                format!(
                    "`{}` and `{}` share the wire name `{}`",
                    other.ident, op.ident, op.wire_name
                ),
            ));
        }
        ops.push(op);
        methods.push(method);
    }

    let vis = &item.vis;
    let trait_ident = &item.ident;
    let trait_attrs = &item.attrs;
    let servant_ident = format_ident!("{}Servant", trait_ident);
    let proxy_ident = format_ident!("{}Proxy", trait_ident);

    // The trait: each `async fn` becomes `fn -> impl Future + Send` so servants run on any
    // multi-threaded runtime; implementations still write `async fn`.
    let trait_methods = methods.iter().zip(&ops).map(|(method, op)| {
        let mut sig = method.sig.clone();
        sig.asyncness = None;
        for input in sig.inputs.iter_mut() {
            if let syn::FnArg::Typed(arg) = input {
                arg.attrs.retain(|a| !a.path().is_ident("tars"));
            }
        }
        let output = &op.output;
        sig.output = syn::parse_quote! {
            -> impl ::core::future::Future<Output = #output> + ::core::marker::Send
        };
        let attrs = method.attrs.iter().filter(|a| !a.path().is_ident("tars"));
        let doc = format!("TARS operation `{}`.", op.wire_name);
        quote! { #(#attrs)* #[doc = ""] #[doc = #doc] #sig; }
    });

    // Generated locals are `__tars_` names with mixed-site hygiene (`method::local`), and the
    // decoded parameters are bound by tag, not by their user names: no parameter name can
    // shadow or be shadowed by the generated code.
    let current = local("current");
    let func = local("func");
    let params = local("params");
    let out = local("out");
    let reply = local("reply");
    let dispatch_arms: Vec<_> = ops
        .iter()
        .map(|op| {
            let wire = &op.wire_name;
            let method = &op.ident;
            let arg = |p: &Param| local(&format!("arg{}", p.tag));
            let reads = op.ins().map(|p| {
                let (ident, ty, tag, name) = (arg(p), &p.ty, p.tag, &p.wire_name);
                quote! {
                    let #ident: #ty = #params.read(#tag, #name).map_err(|e| {
                        ::tars_core::__private::param_error(#wire, #name, #tag, e)
                    })?;
                }
            });
            let outs_init = op.outs().map(|p| {
                let (ident, ty) = (arg(p), &p.ty);
                quote! { let mut #ident: #ty = ::core::default::Default::default(); }
            });
            let current_arg = op.takes_current.then(|| quote! { #current, });
            let args = op.params.iter().map(|p| {
                let ident = arg(p);
                if p.out {
                    quote! { &mut #ident }
                } else {
                    quote! { #ident }
                }
            });
            let ret = local("ret");
            let call = quote! { #trait_ident::#method(&*self.0, #current_arg #(#args),*).await? };
            let (bind, write_ret) = match &op.ret {
                Some(ty) => (
                    quote! { let #ret: #ty = #call; },
                    quote! { #out.write_ret(&#ret); },
                ),
                None => (quote! { #call; }, quote! {}),
            };
            let writes = op.outs().map(|p| {
                let (ident, tag, name) = (arg(p), p.tag, &p.wire_name);
                quote! { #out.write(#tag, #name, &#ident); }
            });
            quote! {
                #wire => {
                    #(#reads)*
                    #(#outs_init)*
                    #bind
                    let mut #out = #params.response_writer();
                    #write_ret
                    #(#writes)*
                    ::core::result::Result::Ok(#out)
                }
            }
        })
        .collect();
    let owned = local("owned");

    let proxy_methods = ops.iter().map(|op| {
        let method = &op.ident;
        let wire = &op.wire_name;
        // In parameters keep their user names (they are the method's documented signature);
        // every local is hygienic, so those names cannot collide with it.
        let args = op.ins().map(|p| {
            let ident = &p.ident;
            let ty = borrowed_param_type(&p.ty);
            quote! { #ident: #ty }
        });
        let writes = op.ins().map(|p| {
            let (ident, tag, name) = (&p.ident, p.tag, &p.wire_name);
            let value = if is_by_value(&p.ty) { quote! { &#ident } } else { quote! { #ident } };
            quote! { #params.write(#tag, #name, #value); }
        });
        let reply_type = op.reply_type();
        let decode = op.decode_reply(&reply, |name, tag| {
            quote! { |e| ::tars_core::__private::reply_error(#wire, #name, #tag, e) }
        });
        let doc = format!(
            "Calls `{wire}`; returns the return value and out parameters (defaults for a one-way proxy)."
        );
        quote! {
            #[doc = #doc]
            #[allow(clippy::too_many_arguments, clippy::unused_unit)]
            pub async fn #method(&self, #(#args),*) -> ::tars_core::TarsResult<#reply_type> {
                let mut #params = self.0.params_writer();
                #(#writes)*
                let ::core::option::Option::Some(mut #reply) = self.0.invoke(#wire, #params).await? else {
                    return ::core::result::Result::Ok(::core::default::Default::default());
                };
                let _ = &mut #reply;
                ::core::result::Result::Ok({ #decode })
            }
        }
    });

    let servant_doc = format!("Serves a [`{trait_ident}`] implementation as a TARS servant.");
    let proxy_doc = format!("Typed client proxy of the TARS interface [`{trait_ident}`].");
    Ok(quote! {
        #(#trait_attrs)*
        #vis trait #trait_ident: ::core::marker::Send + ::core::marker::Sync + 'static {
            #(#trait_methods)*

            /// Called once for every connection of this servant that closes.
            fn do_close(&self, current: &::tars_core::Current) {
                let _ = current;
            }
        }

        #[doc = #servant_doc]
        #vis struct #servant_ident<T>(::std::sync::Arc<T>);

        impl<T: #trait_ident> #servant_ident<T> {
            /// Wraps an implementation.
            pub fn new(inner: T) -> Self {
                Self(::std::sync::Arc::new(inner))
            }

            /// Wraps a shared implementation.
            pub fn from_arc(inner: ::std::sync::Arc<T>) -> Self {
                Self(inner)
            }

            /// The implementation.
            pub fn inner(&self) -> &::std::sync::Arc<T> {
                &self.0
            }
        }

        // The impl names the parameter types of the operations, so its type parameter has a
        // name no user type has.
        impl<__TarsImpl: #trait_ident> ::tars_core::server::Servant for #servant_ident<__TarsImpl> {
            fn dispatch<'a>(
                &'a self,
                #current: &'a ::tars_core::Current,
                #func: &'a str,
                mut #params: ::tars_core::protocol::ParamsReader,
            ) -> ::tars_core::server::BoxFuture<'a, ::tars_core::TarsResult<::tars_core::protocol::ParamsWriter>> {
                let _ = #current;
                ::std::boxed::Box::pin(async move {
                    match #func {
                        #(#dispatch_arms)*
                        _ => ::core::result::Result::Err(::tars_core::__private::no_function(#func)),
                    }
                })
            }

            fn dispatch_owned(
                self: ::std::sync::Arc<Self>,
                #owned: ::tars_core::Current,
                mut #params: ::tars_core::protocol::ParamsReader,
            ) -> ::tars_core::server::BoxFuture<'static, ::tars_core::TarsResult<::tars_core::protocol::ParamsWriter>> {
                // One box: the future owns the servant and the `Current` it borrows from.
                ::std::boxed::Box::pin(async move {
                    let #current = &#owned;
                    let _ = #current;
                    let #func = #current.func_name();
                    match #func {
                        #(#dispatch_arms)*
                        _ => ::core::result::Result::Err(::tars_core::__private::no_function(#func)),
                    }
                })
            }

            fn do_close(&self, #current: &::tars_core::Current) {
                #trait_ident::do_close(&*self.0, #current)
            }
        }

        #[doc = #proxy_doc]
        #[derive(Clone, Debug)]
        #vis struct #proxy_ident(::tars_core::ServantProxy);

        impl ::tars_core::Proxy for #proxy_ident {
            fn from_servant_proxy(proxy: ::tars_core::ServantProxy) -> Self {
                Self(proxy)
            }

            fn servant_proxy(&self) -> &::tars_core::ServantProxy {
                &self.0
            }
        }

        impl #proxy_ident {
            #(#proxy_methods)*
        }
    })
}
