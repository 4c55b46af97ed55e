//! [`Domain`]: one `<name> ... </name>` block: its parameters in file order, its sub-domains in
//! file order and the raw parameter lines it was read from.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// Where a parameter was read: the file (or `<string>`) and the 1-based line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The file name, or `<string>`.
    pub file: Arc<str>,
    /// The 1-based line number.
    pub line: usize,
}

#[derive(Debug, Clone)]
struct Param {
    value: String,
    seq: u64,
    origin: Option<Origin>,
}

/// A domain of a TARS config: named parameters (`key=value`, or a bare `key` whose value is
/// empty) and named sub-domains, both kept in file order.
///
/// Two domains are equal when their names, their parameters (with their order) and their
/// sub-domains (with their order) are; the raw [`lines`](Domain::lines) and origins are not
/// compared.
#[derive(Debug, Clone, Default)]
pub struct Domain {
    name: String,
    params: HashMap<String, Param>,
    /// Position → key; a key re-read moves to the end, as TC_Config does.
    order: BTreeMap<u64, String>,
    next_seq: u64,
    subs: Vec<Domain>,
    sub_index: HashMap<String, usize>,
    lines: Vec<String>,
}

impl PartialEq for Domain {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
            && self.params().eq(other.params())
            && self.subs.len() == other.subs.len()
            && self.subs.iter().zip(&other.subs).all(|(a, b)| a == b)
    }
}

impl Eq for Domain {}

impl Domain {
    /// An empty domain called `name`.
    pub fn new(name: impl Into<String>) -> Self {
        Domain {
            name: name.into(),
            ..Domain::default()
        }
    }

    /// The domain's name (`server` for `<server>`; empty for the root).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The value of parameter `key` of this domain (empty for a bare key).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.params.get(key).map(|p| p.value.as_str())
    }

    /// Where parameter `key` was read, if it came from a file or string.
    pub fn origin(&self, key: &str) -> Option<&Origin> {
        self.params.get(key).and_then(|p| p.origin.as_ref())
    }

    /// The parameter names in file order (a key given twice is where it was given last).
    pub fn keys(&self) -> impl Iterator<Item = &str> + '_ {
        self.order.values().map(String::as_str)
    }

    /// The parameters `(key, value)` in file order.
    pub fn params(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.order
            .values()
            .map(|k| (k.as_str(), self.params[k].value.as_str()))
    }

    /// How many parameters the domain has.
    pub fn param_count(&self) -> usize {
        self.params.len()
    }

    /// The raw parameter lines as read (trimmed, escapes not resolved, repeats kept), as
    /// TC_Config's `getDomainLine`: for domains that are lists rather than maps.
    pub fn lines(&self) -> &[String] {
        &self.lines
    }

    /// The sub-domain called `name`.
    pub fn domain(&self, name: &str) -> Option<&Domain> {
        self.sub_index.get(name).map(|&i| &self.subs[i])
    }

    /// The sub-domain called `name`, mutably.
    pub fn domain_mut(&mut self, name: &str) -> Option<&mut Domain> {
        match self.sub_index.get(name) {
            Some(&i) => Some(&mut self.subs[i]),
            None => None,
        }
    }

    /// The sub-domains in file order (a domain opened twice is where it was opened first).
    pub fn domains(&self) -> impl Iterator<Item = &Domain> + '_ {
        self.subs.iter()
    }

    /// The names of the sub-domains in file order.
    pub fn domain_names(&self) -> impl Iterator<Item = &str> + '_ {
        self.subs.iter().map(Domain::name)
    }

    /// Sets parameter `key` to `value`; a key that exists keeps its position (as TC_Config's
    /// `set` and `insertDomainParam`), a new one goes last.
    pub fn set(&mut self, key: impl Into<String>, value: impl Into<String>) {
        let key = key.into();
        let value = value.into();
        match self.params.get_mut(&key) {
            Some(p) => {
                p.value = value;
                p.origin = None;
            }
            None => self.insert_last(key, value, None),
        }
    }

    /// Sets `key` as the parser does: last wins, and the key moves to the end.
    pub(crate) fn set_moving(&mut self, key: String, value: String, origin: Option<Origin>) {
        if let Some(old) = self.params.remove(&key) {
            self.order.remove(&old.seq);
        }
        self.insert_last(key, value, origin);
    }

    fn insert_last(&mut self, key: String, value: String, origin: Option<Origin>) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.order.insert(seq, key.clone());
        self.params.insert(key, Param { value, seq, origin });
    }

    pub(crate) fn push_line(&mut self, line: String) {
        self.lines.push(line);
    }

    /// Removes parameter `key`, returning its value.
    pub fn remove(&mut self, key: &str) -> Option<String> {
        let p = self.params.remove(key)?;
        self.order.remove(&p.seq);
        Some(p.value)
    }

    /// The sub-domain `name`, created (last) if it does not exist.
    pub fn add_domain(&mut self, name: &str) -> &mut Domain {
        let i = match self.sub_index.get(name) {
            Some(&i) => i,
            None => {
                self.subs.push(Domain::new(name));
                self.sub_index.insert(name.to_owned(), self.subs.len() - 1);
                self.subs.len() - 1
            }
        };
        &mut self.subs[i]
    }

    /// Removes the sub-domain `name`, returning it.
    pub fn remove_domain(&mut self, name: &str) -> Option<Domain> {
        let i = self.sub_index.remove(name)?;
        let d = self.subs.remove(i);
        for v in self.sub_index.values_mut() {
            if *v > i {
                *v -= 1;
            }
        }
        Some(d)
    }

    /// Joins `other` into this domain, as TC_Config's `joinConfig` does (which writes both
    /// configs out and reads them back as one text). With `update`, `other` comes second: its
    /// values win and its new keys and domains go last. Without, `other` comes first: this
    /// domain's values win, and `other`'s keys and domains lead. Either way a key given by
    /// both moves to the position of its second appearance, as in the joined text.
    pub fn join(&mut self, other: &Domain, update: bool) {
        if update {
            self.absorb(other);
        } else {
            let mut merged = other.clone();
            merged.name = std::mem::take(&mut self.name);
            merged.absorb(self);
            *self = merged;
        }
    }

    fn absorb(&mut self, other: &Domain) {
        for key in other.order.values() {
            let p = &other.params[key];
            self.set_moving(key.clone(), p.value.clone(), p.origin.clone());
        }
        self.lines.extend(other.lines.iter().cloned());
        for sub in &other.subs {
            self.add_domain(&sub.name).absorb(sub);
        }
    }

    /// The sub-domain at `path` (names from this domain down; empty = this domain).
    pub(crate) fn descend(&self, path: &[&str]) -> Option<&Domain> {
        path.iter().try_fold(self, |d, name| d.domain(name))
    }

    /// The sub-domain at `path`, mutably.
    pub(crate) fn descend_mut(&mut self, path: &[&str]) -> Option<&mut Domain> {
        let mut d = self;
        for name in path {
            d = d.domain_mut(name)?;
        }
        Some(d)
    }

    /// The sub-domain at `path`, creating the missing ones.
    pub(crate) fn descend_create(&mut self, path: &[&str]) -> &mut Domain {
        let mut d = self;
        for name in path {
            d = d.add_domain(name);
        }
        d
    }

    /// The sub-domain at index `i`, or this domain if there is none (the parser's stack
    /// holds indices it took from `sub_index_or_add`).
    pub(crate) fn sub_at_or_self(&mut self, i: usize) -> &mut Domain {
        if i < self.subs.len() {
            &mut self.subs[i]
        } else {
            self
        }
    }

    /// The index of sub-domain `name`, creating it if needed.
    pub(crate) fn sub_index_or_add(&mut self, name: &str) -> usize {
        self.add_domain(name);
        self.sub_index[name]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(d: &Domain) -> Vec<&str> {
        d.keys().collect()
    }

    #[test]
    fn set_keeps_position_set_moving_moves_to_end() {
        let mut d = Domain::new("x");
        d.set("a", "1");
        d.set("b", "2");
        d.set("a", "3");
        assert_eq!(keys(&d), ["a", "b"]);
        assert_eq!(d.get("a"), Some("3"));
        d.set_moving("a".into(), "4".into(), None);
        assert_eq!(keys(&d), ["b", "a"]);
        assert_eq!(d.get("a"), Some("4"));
        assert_eq!(d.remove("b"), Some("2".into()));
        assert_eq!(keys(&d), ["a"]);
        assert_eq!(d.remove("b"), None);
    }

    #[test]
    fn domains_keep_first_position_and_can_be_removed() {
        let mut d = Domain::new("");
        d.add_domain("b").set("k", "1");
        d.add_domain("a");
        d.add_domain("b").set("j", "2");
        assert_eq!(d.domain_names().collect::<Vec<_>>(), ["b", "a"]);
        assert_eq!(keys(d.domain("b").unwrap()), ["k", "j"]);
        assert!(d.remove_domain("b").is_some());
        assert_eq!(d.domain_names().collect::<Vec<_>>(), ["a"]);
        assert!(d.domain("a").is_some());
        d.add_domain("c");
        assert_eq!(d.domain("c").unwrap().name(), "c");
        assert!(d.remove_domain("zz").is_none());
    }

    fn sample(pairs: &[(&str, &str)], subs: &[&str]) -> Domain {
        let mut d = Domain::new("s");
        for (k, v) in pairs {
            d.set_moving(k.to_string(), v.to_string(), None);
        }
        for s in subs {
            d.add_domain(s).set("from", "this");
        }
        d
    }

    #[test]
    fn join_with_update_is_this_then_other() {
        let mut a = sample(&[("x", "1"), ("y", "2"), ("z", "3")], &["p"]);
        let b = sample(&[("y", "20"), ("w", "40")], &["q", "p"]);
        a.join(&b, true);
        assert_eq!(keys(&a), ["x", "z", "y", "w"]);
        assert_eq!(a.get("y"), Some("20"));
        assert_eq!(a.domain_names().collect::<Vec<_>>(), ["p", "q"]);
        assert_eq!(a.name(), "s");
    }

    #[test]
    fn join_without_update_is_other_then_this() {
        let mut a = sample(&[("x", "1"), ("y", "2")], &["p"]);
        a.name = "mine".into();
        let b = sample(&[("y", "20"), ("w", "40")], &["q", "p"]);
        a.join(&b, false);
        assert_eq!(keys(&a), ["w", "x", "y"]);
        assert_eq!(a.get("y"), Some("2"));
        assert_eq!(a.domain_names().collect::<Vec<_>>(), ["q", "p"]);
        assert_eq!(a.name(), "mine");
    }

    #[test]
    fn equality_ignores_lines_and_origins_but_not_order() {
        let mut a = Domain::new("d");
        a.set("k", "v");
        a.push_line("k = v".into());
        let mut b = Domain::new("d");
        b.set_moving(
            "k".into(),
            "v".into(),
            Some(Origin {
                file: "f".into(),
                line: 3,
            }),
        );
        assert_eq!(a, b);
        a.set("j", "w");
        b.set("j", "w");
        assert_eq!(a, b);
        let mut c = Domain::new("d");
        c.set("j", "w");
        c.set("k", "v");
        assert_ne!(a, c);
    }
}
