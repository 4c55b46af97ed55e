//! `#[derive(TarsEnum)]`.

use crate::attrs::{parse_i32, TarsAttrs};
use proc_macro2::TokenStream;
use quote::quote;
use syn::{Data, DeriveInput, Fields};

pub fn expand(input: DeriveInput) -> syn::Result<TokenStream> {
    let ident = &input.ident;
    let Data::Enum(data) = &input.data else {
        return Err(syn::Error::new_spanned(
            ident,
            "TarsEnum can only be derived for enums",
        ));
    };
    let container = TarsAttrs::parse(&input.attrs)?;
    let enum_name = container
        .name
        .map(|n| n.value())
        .unwrap_or_else(|| ident.to_string());

    let mut known = Vec::new();
    let mut unknown = None;
    let mut next_value: i32 = 0;
    for variant in &data.variants {
        let attrs = TarsAttrs::parse(&variant.attrs)?;
        let name = &variant.ident;
        if attrs.unknown {
            let single_i32 = matches!(&variant.fields, Fields::Unnamed(f) if f.unnamed.len() == 1);
            if !single_i32 || unknown.is_some() {
                return Err(syn::Error::new_spanned(
                    variant,
                    "#[tars(unknown)] marks one tuple variant holding an i32, like `Unknown(i32)`",
                ));
            }
            unknown = Some(name.clone());
            continue;
        }
        if !matches!(variant.fields, Fields::Unit) {
            return Err(syn::Error::new_spanned(
                variant,
                "TarsEnum variants carry no data (except one #[tars(unknown)] Unknown(i32))",
            ));
        }
        let value = match (attrs.value, &variant.discriminant) {
            (Some(v), _) => v,
            (None, Some((_, expr))) => parse_i32(expr)?,
            (None, None) => next_value,
        };
        next_value = value.wrapping_add(1);
        known.push((name.clone(), value));
    }
    let Some((first, _)) = known.first() else {
        return Err(syn::Error::new_spanned(
            ident,
            "a TarsEnum needs at least one unit variant",
        ));
    };

    let to_value = known
        .iter()
        .map(|(name, value)| quote! { Self::#name => #value });
    // Several names may share one value (as IDL allows): the first declared wins on decode.
    let mut seen = std::collections::HashSet::new();
    let from_value = known
        .iter()
        .filter(|(_, value)| seen.insert(*value))
        .map(|(name, value)| quote! { #value => ::core::option::Option::Some(Self::#name) });
    let (unknown_to_value, unknown_decode) = match &unknown {
        Some(u) => (
            quote! { Self::#u(v) => *v, },
            quote! { ::core::result::Result::Ok(Self::#u(value)) },
        ),
        None => (
            quote! {},
            quote! {
                ::core::result::Result::Err(r.error(
                    ::tars_core::codec::DecodeErrorKind::OutOfRange {
                        value: value as i64,
                        target: #enum_name,
                    },
                ))
            },
        ),
    };

    Ok(quote! {
        impl #ident {
            /// The value this enumerator travels as.
            pub fn value(&self) -> i32 {
                match self {
                    #(#to_value,)*
                    #unknown_to_value
                }
            }

            /// The enumerator declared with `value`, if any.
            pub fn from_value(value: i32) -> ::core::option::Option<Self> {
                match value {
                    #(#from_value,)*
                    _ => ::core::option::Option::None,
                }
            }
        }

        impl ::tars_core::TarsEncode for #ident {
            fn encode(&self, w: &mut ::tars_core::TarsWriter, tag: u8) {
                w.write_i32(tag, self.value());
            }
        }

        impl ::tars_core::TarsDecode for #ident {
            fn decode_payload(
                r: &mut ::tars_core::TarsReader,
                ty: ::tars_core::TarsType,
            ) -> ::core::result::Result<Self, ::tars_core::DecodeError> {
                let value = <i32 as ::tars_core::TarsDecode>::decode_payload(r, ty)?;
                match Self::from_value(value) {
                    ::core::option::Option::Some(v) => ::core::result::Result::Ok(v),
                    ::core::option::Option::None => #unknown_decode,
                }
            }
        }

        /// The first declared enumerator, as TarsCpp defaults an enum field.
        impl ::core::default::Default for #ident {
            fn default() -> Self {
                Self::#first
            }
        }
    })
}
