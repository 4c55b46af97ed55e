//! `#[tars_push]`: a push interface (methods with a return value and out parameters only)
//! becomes a server-side `<Trait>Sender` and a client-side `<Trait>PrxCallback` trait with
//! its `<Trait>PrxDispatcher`.

use crate::method::{borrowed_param_type, hygienic, is_by_value, local, tuple_of, Operation};
use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::{ItemTrait, TraitItem};

pub fn expand(item: ItemTrait) -> syn::Result<TokenStream> {
    if !item.generics.params.is_empty() {
        return Err(syn::Error::new_spanned(
            &item.generics,
            "a push interface cannot be generic",
        ));
    }
    let mut ops = Vec::new();
    for trait_item in &item.items {
        let TraitItem::Fn(method) = trait_item else {
            return Err(syn::Error::new_spanned(
                trait_item,
                "a push interface holds only `async fn` methods",
            ));
        };
        let op = Operation::parse(method)?;
        if let Some(p) = op.ins().next() {
            return Err(syn::Error::new_spanned(
                &p.ident,
                "push methods have only out parameters (`&mut T`): a push carries no input",
            ));
        }
        if op.takes_current {
            return Err(syn::Error::new_spanned(
                &method.sig.ident,
                "push methods take no `&Current`",
            ));
        }
        if ops.iter().any(|o: &Operation| o.wire_name == op.wire_name) {
            return Err(syn::Error::new_spanned(
                &method.sig.ident,
                "two push methods share a wire name",
            ));
        }
        ops.push(op);
    }
    let vis = &item.vis;
    let name = &item.ident;
    let sender = format_ident!("{}Sender", name);
    let callback = format_ident!("{}PrxCallback", name);
    let dispatcher = format_ident!("{}PrxDispatcher", name);

    // Generated locals are `__tars_` names with mixed-site hygiene (`method::local`); the
    // readable public parameters (`current`, `ret`) are mixed-site too, so an out parameter
    // named `current`, `ret` or like any local is a binding of its own.
    let current = hygienic("current");
    let ret = hygienic("ret");
    let writer = local("w");
    let senders = ops.iter().map(|op| {
        let method = &op.ident;
        let frame_fn = format_ident!("{}_frame", op.ident);
        let wire = &op.wire_name;
        let ret_arg = op.ret.as_ref().map(|ty| {
            let ty = borrowed_param_type(ty);
            quote! { #ret: #ty, }
        });
        let ret_write = op.ret.as_ref().map(|ty| {
            let value = if is_by_value(ty) { quote! { &#ret } } else { quote! { #ret } };
            quote! { #writer.write_ret(#value); }
        });
        let ret_pass = op.ret.as_ref().map(|_| quote! { #ret, });
        let args: Vec<_> = op
            .outs()
            .map(|p| {
                let ident = &p.ident;
                let ty = borrowed_param_type(&p.ty);
                quote! { #ident: #ty }
            })
            .collect();
        let passes: Vec<_> = op.outs().map(|p| &p.ident).collect();
        let writes = op.outs().map(|p| {
            let (ident, tag, wire_name) = (&p.ident, p.tag, &p.wire_name);
            let value = if is_by_value(&p.ty) { quote! { &#ident } } else { quote! { #ident } };
            quote! { #writer.write(#tag, #wire_name, #value); }
        });
        let doc = format!(
            "Pushes `{wire}` to one connection (TarsCpp: `{name}::async_response_push_{wire}(current, ...)`)."
        );
        let frame_doc = format!(
            "The frame of a `{wire}` push, encoded once to send to many connections (`CurrentRegistry::broadcast`)."
        );
        quote! {
            #[doc = #doc]
            pub fn #method(#current: &::tars_core::Current, #ret_arg #(#args),*) -> ::tars_core::TarsResult<()> {
                #current.send_response(Self::#frame_fn(#ret_pass #(#passes),*))
            }

            #[doc = #frame_doc]
            pub fn #frame_fn(#ret_arg #(#args),*) -> ::tars_core::Bytes {
                let mut #writer = ::tars_core::protocol::ParamsWriter::new(::tars_core::protocol::TARS_VERSION);
                #ret_write
                #(#writes)*
                ::tars_core::server::push_frame(#wire, #writer.finish())
            }
        }
    });

    let callbacks = ops.iter().map(|op| {
        let cb = format_ident!("callback_{}", op.ident);
        let cb_exception = format_ident!("callback_{}_exception", op.ident);
        let wire = &op.wire_name;
        let ret_arg = op.ret.as_ref().map(|ty| quote! { #ret: #ty, });
        let args = op.outs().map(|p| {
            let (ident, ty) = (&p.ident, &p.ty);
            quote! { #ident: #ty }
        });
        let names = op.ret.iter().map(|_| ret.clone()).chain(op.outs().map(|p| p.ident.clone()));
        let doc = format!("A `{wire}` push arrived with iRet 0. The default drops it with a debug log.");
        let doc_exc = format!("A `{wire}` push arrived with a non-zero iRet. The default logs it.");
        quote! {
            #[doc = #doc]
            fn #cb(&self, #ret_arg #(#args),*) {
                #( let _ = #names; )*
                ::tars_core::__private::tracing::debug!(func = #wire, "push without a callback dropped");
            }

            #[doc = #doc_exc]
            fn #cb_exception(&self, code: i32) {
                ::tars_core::__private::tracing::debug!(func = #wire, code, "push exception");
            }
        }
    });

    let push = local("push");
    let func = local("func");
    let endpoint = local("endpoint");
    let reply = local("reply");
    let decoded = local("decoded");
    let routes = ops.iter().map(|op| {
        let cb = format_ident!("callback_{}", op.ident);
        let cb_exception = format_ident!("callback_{}_exception", op.ident);
        let wire = &op.wire_name;
        let decode = op.decode_reply(&reply, |param, tag| {
            quote! { |e| ::tars_core::__private::reply_error(#wire, #param, #tag, e) }
        });
        let names = op.reply_locals();
        let pattern = tuple_of(&names);
        quote! {
            #wire => {
                if #push.ret != 0 {
                    self.0.#cb_exception(#push.ret);
                    return;
                }
                let #decoded = (|| -> ::tars_core::TarsResult<_> {
                    let mut #reply = ::tars_core::protocol::ParamsReader::new(#push.version, #push.buffer)?;
                    let _ = &mut #reply;
                    ::core::result::Result::Ok({ #decode })
                })();
                match #decoded {
                    ::core::result::Result::Ok(#pattern) => self.0.#cb(#(#names),*),
                    ::core::result::Result::Err(e) => {
                        ::tars_core::__private::tracing::debug!(func = #wire, error = %e, "undecodable push dropped");
                    }
                }
            }
        }
    });

    let sender_doc =
        format!("Server side of the push interface `{name}`: sends its pushes to connections.");
    let callback_doc = format!(
        "Client side of the push interface `{name}`: implement the callbacks you need and install them with \
         `proxy.servant_proxy().set_push_callback({dispatcher}::new(callbacks))`."
    );
    let dispatcher_doc =
        format!("Routes pushes of `{name}` to a [`{callback}`] by `status[\"TARS_FUNC\"]`.");
    Ok(quote! {
        #[doc = #sender_doc]
        #vis struct #sender;

        impl #sender {
            #(#senders)*
        }

        #[doc = #callback_doc]
        #vis trait #callback: ::core::marker::Send + ::core::marker::Sync + 'static {
            #(#callbacks)*

            /// A connection of the proxy opened.
            fn on_connect(&self, endpoint: &::tars_core::Endpoint) {
                let _ = endpoint;
            }

            /// A connection of the proxy closed.
            fn on_close(&self, endpoint: &::tars_core::Endpoint) {
                let _ = endpoint;
            }
        }

        #[doc = #dispatcher_doc]
        #vis struct #dispatcher<T>(::std::sync::Arc<T>);

        impl<T: #callback> #dispatcher<T> {
            /// Wraps the callbacks.
            pub fn new(callbacks: T) -> Self {
                Self(::std::sync::Arc::new(callbacks))
            }

            /// Wraps shared callbacks.
            pub fn from_arc(callbacks: ::std::sync::Arc<T>) -> Self {
                Self(callbacks)
            }
        }

        // The impl names the out parameter types, so its type parameter has a name no user
        // type has.
        impl<__TarsCallbacks: #callback> ::tars_core::client::PushCallback for #dispatcher<__TarsCallbacks> {
            fn on_push(&self, #endpoint: &::tars_core::Endpoint, #push: ::tars_core::protocol::ResponsePacket) {
                let _ = #endpoint;
                let #func = #push
                    .status
                    .get(::tars_core::protocol::STATUS_TARS_FUNC)
                    .cloned()
                    .unwrap_or_default();
                match #func.as_str() {
                    #(#routes)*
                    other => {
                        ::tars_core::__private::tracing::debug!(func = other, "push for an unknown function dropped");
                    }
                }
            }

            fn on_connect(&self, #endpoint: &::tars_core::Endpoint) {
                self.0.on_connect(#endpoint)
            }

            fn on_close(&self, #endpoint: &::tars_core::Endpoint) {
                self.0.on_close(#endpoint)
            }
        }
    })
}
