//! Whole-model checks: structs holding themselves, and which structs need `Ord`.

use super::Resolver;
use crate::error::{Error, Span};
use crate::model::Ty;

impl Resolver<'_> {
    /// A struct holding another by value in a loop (A has a B, B has an A) has no finite
    /// size, in C++ as in Rust.
    pub(super) fn check_cycles(&self) -> Result<(), Error> {
        let direct = |m: usize, s: usize| -> Vec<(usize, usize)> {
            self.model.modules[m].structs[s]
                .fields
                .iter()
                .filter_map(|f| match f.ty {
                    Ty::Struct(a, b) => Some((a, b)),
                    _ => None,
                })
                .collect()
        };
        for (m, module) in self.model.modules.iter().enumerate() {
            for s in 0..module.structs.len() {
                let mut stack = direct(m, s);
                let mut seen = Vec::new();
                while let Some(n) = stack.pop() {
                    if n == (m, s) {
                        let st = &module.structs[s];
                        return Err(Error::at(
                            st.span,
                            format!("struct `{}` contains itself through its members; break the loop with a vector", st.idl),
                        ));
                    }
                    if !seen.contains(&n) {
                        seen.push(n);
                        stack.extend(direct(n.0, n.1));
                    }
                }
            }
        }
        Ok(())
    }

    /// Structs with a `key[...]` and structs used in map keys (directly or inside key
    /// containers or key structs) need `Ord`; without `key[...]` they compare every field.
    pub(super) fn mark_ord(&mut self) -> Result<(), Error> {
        let mut work: Vec<(Ty, Span)> = Vec::new();
        for (m, module) in self.model.modules.iter().enumerate() {
            for (s, st) in module.structs.iter().enumerate() {
                if !st.key.is_empty() {
                    work.push((Ty::Struct(m, s), st.span));
                }
                st.fields
                    .iter()
                    .for_each(|f| collect_keys(&f.ty, f.span, &mut work));
            }
            for i in &module.interfaces {
                for op in &i.ops {
                    op.ret
                        .iter()
                        .for_each(|t| collect_keys(t, op.span, &mut work));
                    op.params
                        .iter()
                        .for_each(|p| collect_keys(&p.ty, p.span, &mut work));
                }
            }
        }
        let mut visited = std::collections::HashSet::new();
        while let Some((t, span)) = work.pop() {
            match t {
                Ty::F32 | Ty::F64 => {
                    return Err(Error::at(
                        span,
                        "float and double cannot be (inside) a map key: Rust maps need ordered keys",
                    ));
                }
                Ty::Vec(inner) => work.push((*inner, span)),
                Ty::Map(k, v) => {
                    work.push((*k, span));
                    work.push((*v, span));
                }
                Ty::Struct(m, s) if visited.insert((m, s)) => {
                    let st = &mut self.model.modules[m].structs[s];
                    st.ord = true;
                    let compared: Vec<usize> = if st.key.is_empty() {
                        (0..st.fields.len()).collect()
                    } else {
                        st.key.clone()
                    };
                    for i in compared {
                        // A float field itself compares with total_cmp.
                        let f = &st.fields[i];
                        if !matches!(f.ty, Ty::F32 | Ty::F64) {
                            work.push((f.ty.clone(), f.span));
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }
}

fn collect_keys(t: &Ty, span: Span, out: &mut Vec<(Ty, Span)>) {
    match t {
        Ty::Vec(inner) => collect_keys(inner, span, out),
        Ty::Map(k, v) => {
            out.push(((**k).clone(), span));
            collect_keys(k, span, out);
            collect_keys(v, span, out);
        }
        _ => {}
    }
}
