//! Reading `.tars` files and their `#include`s (each file once, so diamonds are fine).

use crate::error::{Error, Span};
use crate::parser::{self, ParsedFile};
use std::path::{Path, PathBuf};

/// Every file read, in load order, parsed.
#[derive(Debug, Default)]
pub struct Loaded {
    /// Paths as shown in messages.
    pub paths: Vec<PathBuf>,
    /// The parsed files, same order as `paths`.
    pub files: Vec<ParsedFile>,
}

impl Loaded {
    /// Fills in the file path of an error.
    pub fn locate(&self, mut e: Error) -> Error {
        if e.path.is_none() {
            if let Some(span) = e.span {
                e.path = self.paths.get(span.file).map(|p| p.display().to_string());
            }
        }
        e
    }
}

/// Reads `roots` and everything they include. An `#include "f"` is looked up next to the
/// including file, then in each of `includes`, then as written (relative to the
/// current directory, as tars2cpp does).
pub fn load(roots: &[PathBuf], includes: &[PathBuf]) -> Result<Loaded, Error> {
    let mut loaded = Loaded::default();
    let mut canon: Vec<PathBuf> = Vec::new();
    for root in roots {
        load_one(root, None, includes, &mut loaded, &mut canon)?;
    }
    Ok(loaded)
}

fn load_one(
    path: &Path,
    from: Option<(Span, &Path)>,
    includes: &[PathBuf],
    loaded: &mut Loaded,
    canon: &mut Vec<PathBuf>,
) -> Result<(), Error> {
    let real = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    if canon.contains(&real) {
        return Ok(());
    }
    let src = std::fs::read(path).map_err(|e| {
        let msg = format!("cannot read {}: {e}", path.display());
        match from {
            Some((span, _)) => loaded.locate(Error::at(span, msg)),
            None => Error::plain(msg),
        }
    })?;
    let index = loaded.paths.len();
    canon.push(real);
    loaded.paths.push(path.to_path_buf());
    loaded.files.push(ParsedFile::default());
    let parsed = crate::lexer::lex(&src, index)
        .and_then(parser::parse)
        .map_err(|e| loaded.locate(e))?;
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    for (inc, span) in &parsed.includes {
        let found = std::iter::once(dir.join(inc))
            .chain(includes.iter().map(|d| d.join(inc)))
            .chain(std::iter::once(PathBuf::from(inc)))
            .find(|p| p.is_file());
        let Some(found) = found else {
            return Err(loaded.locate(Error::at(
                *span,
                format!(
                    "cannot find included file \"{inc}\" (looked next to {} and in the include directories)",
                    path.display()
                ),
            )));
        };
        let found_real = std::fs::canonicalize(&found).unwrap_or_else(|_| found.clone());
        if found_real == canon[index] {
            return Err(loaded.locate(Error::at(*span, "a file cannot include itself")));
        }
        load_one(&found, Some((*span, path)), includes, loaded, canon)?;
    }
    loaded.files[index] = parsed;
    Ok(())
}
