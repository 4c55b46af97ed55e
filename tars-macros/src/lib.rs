//! Procedural macros of tars-rs. Use them through `tars_core`, which re-exports them:
//!
//! - `#[derive(TarsStruct)]`: a TARS struct (explicit `#[tars(tag = N)]` per field);
//! - `#[derive(TarsEnum)]`: a TARS enum, travelling as an int.
//!
//! Generated code names `::tars_core::...` paths only.

use proc_macro::TokenStream;
use syn::{parse_macro_input, DeriveInput, ItemTrait};

mod attrs;
mod interface;
mod method;
mod push;
mod tars_enum;
mod tars_struct;

/// Derives `TarsEncode`, `TarsDecode`, `TarsStruct` and an IDL-faithful `Default` for a
/// struct with named fields.
///
/// ```text
/// #[derive(Debug, Clone, PartialEq, TarsStruct)]
/// #[tars(name = "Test.Person")]
/// pub struct Person {
///     #[tars(tag = 0, require)]
///     pub name: String,
///     #[tars(tag = 1, require)]
///     pub age: i32,
///     #[tars(tag = 2)]
///     pub tags: Vec<String>,
///     #[tars(tag = 3, default = 5)]
///     pub level: i32,
/// }
/// ```
///
/// Field attributes: `tag = N` (0..=255, required), `require` (absent on read is an error;
/// always written), `default = EXPR` (the IDL default of an optional field). Optional fields
/// equal to their default are not written, as TarsCpp does. `Option<T>` fields read as `None`
/// when absent. Container attribute `name = "Module.Struct"` sets the TARS class name.
#[proc_macro_derive(TarsStruct, attributes(tars))]
pub fn derive_tars_struct(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    tars_struct::expand(input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Derives `TarsEncode`, `TarsDecode` and `Default` (the first variant, as in TarsCpp) for a
/// C-like enum, with `value()` / `from_value()` helpers.
///
/// Values come from explicit discriminants (`Blue = 5`) or `#[tars(value = 5)]`. One
/// tuple variant marked `#[tars(unknown)]` (`Unknown(i32)`) may hold undeclared values;
/// without it an undeclared value is a decode error.
#[proc_macro_derive(TarsEnum, attributes(tars))]
pub fn derive_tars_enum(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    tars_enum::expand(input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Turns a trait into a TARS interface: the trait (for servants to implement), a
/// `<Trait>Servant` dispatcher to serve an implementation, and a `<Trait>Proxy` typed client.
///
/// ```text
/// #[tars_interface]
/// pub trait Hello {
///     // int sayHello(string name, out string greeting);
///     async fn say_hello(&self, current: &Current, name: String, greeting: &mut String)
///         -> TarsResult<i32>;
/// }
/// ```
///
/// Methods are `async fn(&self, [&Current,] params...) -> TarsResult<R>` (`R = ()` for void).
/// `&mut T` marks an out parameter. Tags follow tars2cpp: the return value at 0, every
/// parameter, in or out, from 1 in declaration order. Wire names are lowerCamelCase of the
/// Rust names, or `#[tars(name = "...")]` on a method or parameter.
#[proc_macro_attribute]
pub fn tars_interface(attr: TokenStream, item: TokenStream) -> TokenStream {
    if !attr.is_empty() {
        return syn::Error::new(
            proc_macro2::Span::call_site(),
            "#[tars_interface] takes no arguments",
        )
        .into_compile_error()
        .into();
    }
    let item = parse_macro_input!(item as ItemTrait);
    interface::expand(item)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Turns a push interface into its server-side sender and client-side callbacks.
///
/// ```text
/// // interface Push { int pushMsg(out string sRsp); };
/// #[tars_push]
/// pub trait Push {
///     async fn push_msg(&self, s_rsp: &mut String) -> TarsResult<i32>;
/// }
/// // Server: PushSender::push_msg(&current, 0, "hello")  (TarsCpp async_response_push_pushMsg)
/// // Client: impl PushPrxCallback for MyCallbacks { fn callback_push_msg(&self, ret: i32, s_rsp: String) {..} }
/// //         proxy.servant_proxy().set_push_callback(PushPrxDispatcher::new(MyCallbacks));
/// ```
///
/// Methods have out parameters only; tags are as in `#[tars_interface]` (return value 0, out
/// parameters from 1). The trait itself is consumed: only the generated items remain.
#[proc_macro_attribute]
pub fn tars_push(attr: TokenStream, item: TokenStream) -> TokenStream {
    if !attr.is_empty() {
        return syn::Error::new(
            proc_macro2::Span::call_site(),
            "#[tars_push] takes no arguments",
        )
        .into_compile_error()
        .into();
    }
    let item = parse_macro_input!(item as ItemTrait);
    push::expand(item)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
