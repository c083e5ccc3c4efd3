//! Errors on the command line: the message on stderr and the exit code, 2 for a usage error
//! (a flag, flag value or combination of flags that cannot work; clap's own parse errors
//! exit 2 too) and 1 for every other failure. A closed stdout exits 0 (see `output.rs`).

/// A usage error: a flag, a flag value or a combination of flags that cannot work.
#[derive(Debug)]
pub struct Usage(pub String);

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Usage {}

/// A usage error with this message (exit code 2).
pub fn usage(msg: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Usage(msg.into()))
}

/// `bail!` for a usage error.
macro_rules! usage_bail {
    ($($arg:tt)*) => {
        return Err($crate::error::usage(format!($($arg)*)))
    };
}
pub(crate) use usage_bail;

/// Exit code of a failed run.
pub const FAILURE: i32 = 1;
/// Exit code of a usage error.
pub const USAGE: i32 = 2;

/// How library messages name a parameter, and the flag that sets it here. The library
/// speaks of its parameters (`the \`arch\` parameter`); the command line names its flags.
const PARAM_FLAGS: [(&str, &str); 3] = [
    ("the `arch` parameter", "--arch"),
    ("the `resume` parameter", "--resume"),
    ("the LP `solver` parameter", "--lp-solver"),
];

/// A library message with its parameter names replaced by the flags that set them.
fn with_flags(msg: &str) -> String {
    PARAM_FLAGS
        .iter()
        .fold(msg.to_string(), |m, (param, flag)| m.replace(param, flag))
}

/// Prints `error: …` on stderr and returns the exit code of `e`.
pub fn report(e: &anyhow::Error) -> i32 {
    eprintln!("error: {}", with_flags(&message(e)));
    if let Some(l) = e
        .chain()
        .find_map(|c| c.downcast_ref::<fcollide::limits::LimitError>())
    {
        eprintln!("  (to raise the limit: --limit {}=VALUE)", l.name);
    }
    if e.chain().any(|c| c.is::<Usage>()) {
        USAGE
    } else {
        FAILURE
    }
}

/// The error and its causes joined by `: `, leaving out a cause whose text the message
/// already holds (library errors name their source in their own text).
fn message(e: &anyhow::Error) -> String {
    let mut msg = String::new();
    for cause in e.chain() {
        let c = cause.to_string();
        if !msg.contains(&c) {
            if !msg.is_empty() {
                msg.push_str(": ");
            }
            msg.push_str(&c);
        }
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn library_parameter_names_become_flags() {
        let interrupted = fcollide::collide::CollideError::Interrupted {
            step: 3,
            path: "c.safetensors".into(),
        }
        .to_string();
        assert!(!interrupted.contains("--"), "{interrupted}");
        let shown = with_flags(&interrupted);
        assert!(
            shown.contains("with the same settings and --resume)"),
            "{shown}"
        );
        assert_eq!(
            with_flags("x: name it with the `arch` parameter (a, b)"),
            "x: name it with --arch (a, b)"
        );
        assert_eq!(
            with_flags("or set the LP `solver` parameter to auto or dense"),
            "or set --lp-solver to auto or dense"
        );
        assert_eq!(with_flags("nothing to map"), "nothing to map");
    }
}
