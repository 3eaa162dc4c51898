//! Why a document was rejected, and where: `file:line:column: Kind/name: field: reason (fix)`.
//! One `Diagnostic` per problem; decoding reports every problem of every document.

use std::fmt;

/// One problem in a manifest, located in its file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file name as the user gave it (`-` for standard input).
    pub file: String,
    /// 1-based line within the whole file (0 when the input had no text behind it).
    pub line: usize,
    /// 1-based column (0 when unknown).
    pub column: usize,
    /// The document's `kind`, when it has one.
    pub kind: Option<String>,
    /// The document's `metadata.name`, when it has one.
    pub name: Option<String>,
    /// The field path, as Kubernetes names it: `spec.http[0].route[0].weight`.
    pub field: Option<String>,
    /// What is wrong, in kubectl's words where kubectl has words for it.
    pub reason: String,
    /// What to do about it, when we know.
    pub fix: Option<String>,
}

impl Diagnostic {
    /// A diagnostic with only a place and a reason; the builder methods add the rest.
    pub fn new(file: &str, line: usize, column: usize, reason: impl Into<String>) -> Diagnostic {
        Diagnostic {
            file: file.to_owned(),
            line,
            column,
            kind: None,
            name: None,
            field: None,
            reason: reason.into(),
            fix: None,
        }
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Diagnostic {
        let field = field.into();
        self.field = (!field.is_empty()).then_some(field);
        self
    }

    pub fn with_fix(mut self, fix: impl Into<String>) -> Diagnostic {
        self.fix = Some(fix.into());
        self
    }

    pub fn with_object(mut self, kind: Option<&str>, name: Option<&str>) -> Diagnostic {
        self.kind = kind.map(str::to_owned);
        self.name = name.map(str::to_owned);
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if self.line > 0 {
            write!(f, ":{}", self.line)?;
            if self.column > 0 {
                write!(f, ":{}", self.column)?;
            }
        }
        f.write_str(": ")?;
        match (&self.kind, &self.name) {
            (Some(kind), Some(name)) => write!(f, "{kind}/{name}: ")?,
            (Some(kind), None) => write!(f, "{kind}: ")?,
            (None, Some(name)) => write!(f, "{name}: ")?,
            (None, None) => {}
        }
        if let Some(field) = &self.field {
            write!(f, "{field}: ")?;
        }
        f.write_str(&self.reason)?;
        if let Some(fix) = &self.fix {
            write!(f, " ({fix})")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostic {}

/// Several diagnostics as one error (what `apply` reports for a rejected file), one per line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", render(.0))]
pub struct Diagnostics(pub Vec<Diagnostic>);

fn render(all: &[Diagnostic]) -> String {
    all.iter()
        .map(Diagnostic::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_every_part_it_has() {
        let d = Diagnostic::new(
            "vs.yaml",
            12,
            17,
            "must be of type integer, got string \"fifty\"",
        )
        .with_object(Some("VirtualService"), Some("catalog"))
        .with_field("spec.http[0].route[0].weight")
        .with_fix("write a number from 0 to 100");
        assert_eq!(
            d.to_string(),
            "vs.yaml:12:17: VirtualService/catalog: spec.http[0].route[0].weight: must be of type integer, got string \"fifty\" (write a number from 0 to 100)"
        );
        let bare = Diagnostic::new("-", 0, 0, "empty");
        assert_eq!(bare.to_string(), "-: empty");
    }
}
