//! Procedural macros of tars-rs. Use them through `tars_core`, which re-exports them:
//!
//! - `#[derive(TarsStruct)]`: a TARS struct (explicit `#[tars(tag = N)]` per field);
//! - `#[derive(TarsEnum)]`: a TARS enum, travelling as an int.
//!
//! Generated code names `::tars_core::...` paths only.

use proc_macro::TokenStream;
use syn::{parse_macro_input, DeriveInput};

mod attrs;
mod tars_enum;
mod tars_struct;

/// Derives `TarsEncode`, `TarsDecode`, `TarsStruct` and an IDL-faithful `Default` for a
/// struct with named fields.
///
/// ```ignore
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
    tars_struct::expand(input).unwrap_or_else(syn::Error::into_compile_error).into()
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
    tars_enum::expand(input).unwrap_or_else(syn::Error::into_compile_error).into()
}
