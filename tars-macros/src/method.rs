//! Parsing of the methods of `#[tars_interface]` and `#[tars_push]` traits into IDL
//! operations: wire name, parameters with their tags, return type.

use crate::attrs::TarsAttrs;
use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::{FnArg, Ident, Pat, ReturnType, TraitItemFn, Type};

/// A local of generated code, `__tars_<name>`, with mixed-site hygiene: user code (parameter
/// names, default expressions) can neither see it nor shadow it, whatever it is named.
pub fn local(name: &str) -> Ident {
    Ident::new(&format!("__tars_{name}"), Span::mixed_site())
}

/// A parameter of a generated public function kept readable (`current`, `ret`), with
/// mixed-site hygiene so that a user parameter of the same name is a different binding.
pub fn hygienic(name: &str) -> Ident {
    Ident::new(name, Span::mixed_site())
}

/// One parameter of an operation.
pub struct Param {
    pub ident: Ident,
    /// The value type (`T` of an out parameter `&mut T`).
    pub ty: Type,
    pub tag: u8,
    /// Name used as the TUP key.
    pub wire_name: String,
    pub out: bool,
}

/// One method, as an IDL operation.
pub struct Operation {
    pub ident: Ident,
    pub wire_name: String,
    pub takes_current: bool,
    pub params: Vec<Param>,
    /// `None` for `void`.
    pub ret: Option<Type>,
    /// The method's declared output type (`TarsResult<i32>`).
    pub output: Type,
}

impl Operation {
    pub fn parse(method: &TraitItemFn) -> syn::Result<Self> {
        let sig = &method.sig;
        if sig.asyncness.is_none() {
            return Err(syn::Error::new_spanned(
                sig.fn_token,
                "methods of a TARS interface must be `async fn`",
            ));
        }
        if !sig.generics.params.is_empty() {
            return Err(syn::Error::new_spanned(
                &sig.generics,
                "TARS interface methods cannot be generic",
            ));
        }
        if method.default.is_some() {
            return Err(syn::Error::new_spanned(
                &sig.ident,
                "TARS interface methods have no default body",
            ));
        }
        let attrs = TarsAttrs::parse(&method.attrs)?;
        let wire_name = attrs
            .name
            .map(|n| n.value())
            .unwrap_or_else(|| lower_camel(&sig.ident));
        let mut inputs = sig.inputs.iter();
        match inputs.next() {
            Some(FnArg::Receiver(r)) if r.reference.is_some() && r.mutability.is_none() => {}
            _ => {
                return Err(syn::Error::new_spanned(
                    &sig.ident,
                    "TARS interface methods take `&self` first",
                ))
            }
        }
        let mut takes_current = false;
        let mut params = Vec::new();
        for (i, arg) in inputs.enumerate() {
            let FnArg::Typed(arg) = arg else {
                unreachable!("receiver only comes first")
            };
            let Pat::Ident(pat) = &*arg.pat else {
                return Err(syn::Error::new_spanned(
                    &arg.pat,
                    "parameters must be plain names",
                ));
            };
            if i == 0 && is_current_ref(&arg.ty) {
                takes_current = true;
                continue;
            }
            let param_attrs = TarsAttrs::parse(&arg.attrs)?;
            let (ty, out) = match &*arg.ty {
                Type::Reference(r) if r.mutability.is_some() => ((*r.elem).clone(), true),
                Type::Reference(r) => {
                    return Err(syn::Error::new_spanned(
                        r,
                        "in parameters are taken by value; write `&mut T` for an out parameter",
                    ))
                }
                other => (other.clone(), false),
            };
            let tag = u8::try_from(params.len() + 1).map_err(|_| {
                syn::Error::new_spanned(&arg.pat, "a TARS operation has at most 255 parameters")
            })?;
            params.push(Param {
                ident: pat.ident.clone(),
                ty,
                tag,
                wire_name: param_attrs
                    .name
                    .map(|n| n.value())
                    .unwrap_or_else(|| lower_camel(&pat.ident)),
                out,
            });
        }
        let ReturnType::Type(_, output) = &sig.output else {
            return Err(syn::Error::new_spanned(
                &sig.ident,
                "TARS interface methods return `TarsResult<T>` (`TarsResult<()>` for void)",
            ));
        };
        let ret = result_ok_type(output).ok_or_else(|| {
            syn::Error::new_spanned(
                output,
                "TARS interface methods return `TarsResult<T>` (`TarsResult<()>` for void)",
            )
        })?;
        let ret = match &ret {
            Type::Tuple(t) if t.elems.is_empty() => None,
            _ => Some(ret),
        };
        Ok(Operation {
            ident: sig.ident.clone(),
            wire_name,
            takes_current,
            params,
            ret,
            output: (**output).clone(),
        })
    }

    pub fn ins(&self) -> impl Iterator<Item = &Param> {
        self.params.iter().filter(|p| !p.out)
    }

    pub fn outs(&self) -> impl Iterator<Item = &Param> {
        self.params.iter().filter(|p| p.out)
    }

    /// The Rust type a caller gets: the return value and out parameters, as `()`, the one
    /// value, or a tuple.
    pub fn reply_type(&self) -> TokenStream {
        let types: Vec<&Type> = self.ret.iter().chain(self.outs().map(|p| &p.ty)).collect();
        match types.as_slice() {
            [] => quote! { () },
            [one] => quote! { #one },
            many => quote! { ( #(#many),* ) },
        }
    }

    /// The locals [`Self::decode_reply`] binds: the return value, then each out parameter.
    pub fn reply_locals(&self) -> Vec<Ident> {
        let ret = self.ret.iter().map(|_| local("ret"));
        ret.chain(self.outs().map(|p| local(&format!("out{}", p.tag))))
            .collect()
    }

    /// Statements decoding the return value and out parameters from `reply` (a mutable
    /// `ParamsReader`), then the expression building the reply value. Binds only
    /// [`Self::reply_locals`], never a user name.
    pub fn decode_reply(
        &self,
        reply: &Ident,
        error: impl Fn(&str, u8) -> TokenStream,
    ) -> TokenStream {
        let names = self.reply_locals();
        let mut names_iter = names.iter();
        let mut reads = Vec::new();
        if let Some(ret) = &self.ret {
            let map_err = error("", 0);
            let name = names_iter.next().expect("a local per value");
            reads.push(quote! { let #name: #ret = #reply.read_ret().map_err(#map_err)?; });
        }
        for (p, name) in self.outs().zip(names_iter) {
            let (ty, tag, wire) = (&p.ty, p.tag, &p.wire_name);
            let map_err = error(wire, tag);
            reads.push(quote! { let #name: #ty = #reply.read(#tag, #wire).map_err(#map_err)?; });
        }
        let value = tuple_of(&names);
        quote! { #(#reads)* #value }
    }
}

/// `()`, the one item, or a tuple of the items.
pub fn tuple_of(items: &[impl quote::ToTokens]) -> TokenStream {
    match items {
        [] => quote! { () },
        [one] => quote! { #one },
        many => quote! { ( #(#many),* ) },
    }
}

/// `say_hello` -> `sayHello`; `s_rsp` -> `sRsp`.
pub fn lower_camel(ident: &Ident) -> String {
    let raw = ident.to_string();
    let name = raw.strip_prefix("r#").unwrap_or(&raw);
    let mut out = String::with_capacity(name.len());
    let mut upper_next = false;
    for c in name.chars() {
        if c == '_' {
            upper_next = !out.is_empty();
        } else if upper_next {
            out.extend(c.to_uppercase());
            upper_next = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// `&Current` (any path ending in `Current`).
fn is_current_ref(ty: &Type) -> bool {
    matches!(ty, Type::Reference(r) if r.mutability.is_none()
        && matches!(&*r.elem, Type::Path(p) if p.path.segments.last().is_some_and(|s| s.ident == "Current")))
}

/// `T` of `Result<T, E>` / `TarsResult<T>`.
fn result_ok_type(ty: &Type) -> Option<Type> {
    let Type::Path(p) = ty else { return None };
    let last = p.path.segments.last()?;
    if !last.ident.to_string().ends_with("Result") {
        return None;
    }
    let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    match args.args.first()? {
        syn::GenericArgument::Type(t) => Some(t.clone()),
        _ => None,
    }
}

/// Scalar types a caller passes by value.
const BY_VALUE: [&str; 12] = [
    "bool", "i8", "u8", "i16", "u16", "i32", "u32", "i64", "u64", "f32", "f64", "isize",
];

/// Whether a caller passes an in parameter of type `ty` by value.
pub fn is_by_value(ty: &Type) -> bool {
    matches!(ty, Type::Path(p) if p.qself.is_none() && p.path.get_ident().is_some_and(|i| BY_VALUE.iter().any(|s| i == s)))
}

/// How a caller passes an in parameter of type `ty`: scalars by value, `&str` for
/// `String`, `&[T]` for `Vec<T>`, `&T` otherwise.
pub fn borrowed_param_type(ty: &Type) -> TokenStream {
    if is_by_value(ty) {
        return quote! { #ty };
    }
    if let Type::Path(p) = ty {
        if let Some(last) = p.path.segments.last() {
            if last.ident == "String" && last.arguments.is_empty() {
                return quote! { &str };
            }
            if last.ident == "Vec" {
                if let syn::PathArguments::AngleBracketed(args) = &last.arguments {
                    if let Some(syn::GenericArgument::Type(elem)) = args.args.first() {
                        return quote! { &[#elem] };
                    }
                }
            }
        }
    }
    quote! { &#ty }
}
