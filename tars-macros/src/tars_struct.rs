//! `#[derive(TarsStruct)]`.

use crate::attrs::TarsAttrs;
use proc_macro2::TokenStream;
use quote::quote;
use syn::{Data, DeriveInput, Expr, Fields, Ident, Type};

struct StructField {
    ident: Ident,
    ty: Type,
    tag: u8,
    require: bool,
    default: Option<TokenStream>,
}

pub fn expand(input: DeriveInput) -> syn::Result<TokenStream> {
    let ident = &input.ident;
    let Data::Struct(data) = &input.data else {
        return Err(syn::Error::new_spanned(
            ident,
            "TarsStruct can only be derived for structs",
        ));
    };
    let Fields::Named(named) = &data.fields else {
        return Err(syn::Error::new_spanned(
            ident,
            "TarsStruct needs named fields, each with #[tars(tag = N)]",
        ));
    };
    let container = TarsAttrs::parse(&input.attrs)?;
    let class_name = container
        .name
        .map(|n| n.value())
        .unwrap_or_else(|| ident.to_string());

    let mut fields = Vec::new();
    for field in &named.named {
        let attrs = TarsAttrs::parse(&field.attrs)?;
        let field_ident = field.ident.clone().expect("named field");
        let Some((tag, tag_span)) = attrs.tag else {
            return Err(syn::Error::new_spanned(
                &field_ident,
                format!("field `{field_ident}` needs a tag: #[tars(tag = N)]"),
            ));
        };
        if let Some(other) = fields.iter().find(|f: &&StructField| f.tag == tag) {
            return Err(syn::Error::new(
                tag_span,
                format!(
                    "tag {tag} is used by both `{}` and `{field_ident}`",
                    other.ident
                ),
            ));
        }
        if attrs.require && is_option(&field.ty) {
            return Err(syn::Error::new_spanned(
                &field.ty,
                "an Option<T> field is optional by nature and cannot be `require`",
            ));
        }
        if attrs.require && attrs.default.is_some() {
            return Err(syn::Error::new_spanned(
                &field_ident,
                "a `require` field has no IDL default; drop `default` or `require`",
            ));
        }
        fields.push(StructField {
            ident: field_ident,
            ty: field.ty.clone(),
            tag,
            require: attrs.require,
            default: attrs.default.as_ref().map(default_tokens),
        });
    }
    fields.sort_by_key(|f| f.tag);

    let writes = fields.iter().map(|f| {
        let (name, tag) = (&f.ident, f.tag);
        let write = quote! { ::tars_core::TarsEncode::encode(&self.#name, w, #tag); };
        if f.require {
            return write;
        }
        let default = match &f.default {
            Some(d) => {
                let ty = &f.ty;
                quote! { ::core::option::Option::Some(&{ let d: #ty = #d; d }) }
            }
            None => quote! { ::core::option::Option::None },
        };
        quote! {
            if !::tars_core::TarsEncode::is_omitted_default(&self.#name, #default) {
                #write
            }
        }
    });

    let reads = fields.iter().map(|f| {
        let (name, tag, ty) = (&f.ident, f.tag, &f.ty);
        let field_name = name.to_string();
        let context = quote! { |e| e.in_field(#class_name, #field_name, #tag) };
        if f.require {
            quote! { value.#name = r.read::<#ty>(#tag).map_err(#context)?; }
        } else {
            quote! {
                if let ::core::option::Option::Some(v) = r.read_optional::<#ty>(#tag).map_err(#context)? {
                    value.#name = v;
                }
            }
        }
    });

    let defaults = fields.iter().map(|f| {
        let name = &f.ident;
        match &f.default {
            Some(d) => quote! { #name: #d },
            None => quote! { #name: ::core::default::Default::default() },
        }
    });

    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    Ok(quote! {
        impl #impl_generics ::tars_core::TarsStruct for #ident #ty_generics #where_clause {
            const CLASS_NAME: &'static str = #class_name;

            fn write_fields(&self, w: &mut ::tars_core::TarsWriter) {
                #(#writes)*
            }

            fn read_fields(
                r: &mut ::tars_core::TarsReader,
            ) -> ::core::result::Result<Self, ::tars_core::DecodeError> {
                let mut value = <Self as ::core::default::Default>::default();
                #(#reads)*
                ::core::result::Result::Ok(value)
            }
        }

        impl #impl_generics ::tars_core::TarsEncode for #ident #ty_generics #where_clause {
            fn encode(&self, w: &mut ::tars_core::TarsWriter, tag: u8) {
                ::tars_core::codec::encode_nested_struct(self, w, tag);
            }
        }

        impl #impl_generics ::tars_core::TarsDecode for #ident #ty_generics #where_clause {
            fn decode_payload(
                r: &mut ::tars_core::TarsReader,
                ty: ::tars_core::TarsType,
            ) -> ::core::result::Result<Self, ::tars_core::DecodeError> {
                ::tars_core::codec::decode_nested_struct(r, ty)
            }
        }

        /// IDL defaults: each optional field's `default`, otherwise the type's default.
        impl #impl_generics ::core::default::Default for #ident #ty_generics #where_clause {
            fn default() -> Self {
                Self { #(#defaults),* }
            }
        }
    })
}

/// A string literal default becomes a `String`; anything else is used as written.
fn default_tokens(expr: &Expr) -> TokenStream {
    match expr {
        Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Str(s),
            ..
        }) => {
            quote! { ::std::string::String::from(#s) }
        }
        other => quote! { #other },
    }
}

fn is_option(ty: &Type) -> bool {
    matches!(ty, Type::Path(p) if p.qself.is_none()
        && p.path.segments.last().is_some_and(|s| s.ident == "Option"))
}
